"""The operations every face of chemloop offers, as plain functions over data.

The command line, the HTTP API, the web app and the MCP server are thin adapters over these: they
parse their input, call an operation with a :class:`~chemloop.services.workspace.Workspace` (the
database, the jobs, the model they share) and render its result. None opens a database session or
imports another face.

- :mod:`~chemloop.services.molecules`: properties and alerts, depictions, sampling, the component catalogue;
- :mod:`~chemloop.services.scoring`: scoring by component name within the limits of a request;
- :mod:`~chemloop.services.jobs`: optimize jobs, job status, results and cancel;
- :mod:`~chemloop.services.campaigns`: create, status, molecules, propose, preview and import
  results, archive and delete;
- :mod:`~chemloop.services.campaign_feedback`: preferences, ratings, the review pair, AI-judged
  pairs, undo, notes;
- :mod:`~chemloop.services.schemas`: the typed requests and results every face shares;
- :mod:`~chemloop.services.errors`: the error naming a refused value (``loc``, ``kind``);
- :mod:`~chemloop.services.settings`, :mod:`~chemloop.services.compute`: what a server allows, and
  request-paid chemistry in worker processes with time and memory limits.
"""
