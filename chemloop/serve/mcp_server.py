"""``chemloop mcp``: chemloop's tools for LLM assistants, over the Model Context Protocol (stdio).

    chemloop mcp --db sqlite:///chemloop.db --runs-dir runs/mcp --model prior

An assistant (Claude Desktop, an IDE agent, ...) starts this as its own child process and calls
the tools below. Each tool calls the same layer as the CLI and the HTTP API: ``chemloop.molecules``
for properties and scores, the sampler, :class:`chemloop.jobs.JobManager` for optimize runs and
campaign proposals, ``chemloop.loop.campaign`` for status. Inputs are typed with the HTTP API's
request types (:mod:`chemloop.serve.schemas`), so both faces accept and refuse the same values.

The server runs as the user's own process, so it needs no API key; still, a tool input is only
data. It never names a file, a model folder or a plugin: those come from :class:`ServeSettings`,
and scoring components are built with ``allow_plugins=False``.
"""

# No `from __future__ import annotations` here: the SDK builds each tool's JSON schema from its
# signature, and some bounds are values of `settings` in build_server's closure, which string
# annotations could not reach.

import csv
import functools
import itertools
import json
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from chemloop.errors import ChemloopError
from chemloop.jobs import JOB_ID
from chemloop.serve import schemas
from chemloop.serve.limits import job_run_settings
from chemloop.serve.settings import ServeSettings

INSTRUCTIONS = """chemloop designs drug-like molecules. Compute properties and scores of SMILES, sample
from the chemical language model, steer it towards a score with an optimize job, and run
design-make-test campaigns (status, propose the next batch). Optimize and propose are jobs: start
one, then poll job_status with its id until the status is done, failed or cancelled."""

# What an assistant reads back once a job is done, by job kind.
RESULT_FILES = {"optimize": "top.csv", "propose": "proposals.csv"}
DEFAULT_BUDGET = 1000  # oracle calls of an optimize job that names none: minutes, not hours, on a CPU

Tool = TypeVar("Tool", bound=Callable[..., Any])
JobId = Annotated[
    str, Field(pattern=JOB_ID.pattern, description="an id from optimize_start or campaign_propose")
]
Campaign = Annotated[schemas.CampaignName, Field(description="the campaign's name")]
Components = Annotated[
    list[schemas.Component],
    Field(
        min_length=1,
        max_length=schemas.MAX_COMPONENTS,
        description="scoring components: names from list_components ('qed'), or tables "
        "{type, name?, weight?, params?, transform?: {type, ...}, filter?}; plugins are not accepted",
    ),
]
AGGREGATES = schemas.ScoreIn.model_fields["aggregate"].annotation  # Literal["geometric", "arithmetic"]
Aggregate = Annotated[AGGREGATES, Field(description="how component scores combine")]


def user_errors(tool: Tool) -> Tool:
    """Report a :class:`ChemloopError` (bad input) to the assistant as a tool error with its message;
    the SDK would hide any other exception's text behind a generic one."""

    @functools.wraps(tool)
    def wrapper(*args, **kwargs):
        try:
            return tool(*args, **kwargs)
        except ChemloopError as err:
            raise ToolError(str(err)) from None

    return wrapper  # type: ignore[return-value]


class Resources:
    """What the tools share, each made on first use: the model, the campaign database, the jobs."""

    def __init__(self, settings: ServeSettings):
        self.settings = settings
        self.model_lock = threading.Lock()  # tools run on worker threads: load once, sample one at a time
        self._lock = threading.Lock()
        self._model = None
        self._factory = None
        self._jobs = None

    def model(self):
        """The language model of ``settings.model``; call with ``model_lock`` held."""
        if self._model is None:
            from chemloop.model.checkpoint import load
            from chemloop.model.device import pick_device

            self._model = load(self.settings.model, pick_device("auto"))
        return self._model

    def factory(self):
        with self._lock:
            if self._factory is None:
                from chemloop.loop.store import connect

                self._factory = connect(self.settings.db_url)
            return self._factory

    def jobs(self):
        with self._lock:
            if self._jobs is None:
                from chemloop.jobs import JobManager

                self._jobs = JobManager(
                    self.settings.runs_dir,
                    max_running=self.settings.max_running_jobs,
                    db_url=self.settings.db_url,
                )
            return self._jobs

    def close(self) -> None:
        with self._lock:
            if self._jobs is not None:
                self._jobs.shutdown()
                self._jobs = None


def build_server(settings: ServeSettings) -> MCPServer:
    """An MCP server whose tools work within ``settings`` (locations, model, request limits)."""
    from chemloop.model.checkpoint import resolve

    resolve(settings.model)  # a wrong --model fails at start, not at the first sample
    resources = Resources(settings)

    @asynccontextmanager
    async def lifespan(_server: MCPServer) -> AsyncIterator[None]:
        try:
            yield None
        finally:  # the assistant closed the connection: stop the jobs this server started
            resources.close()

    server = MCPServer("chemloop", instructions=INSTRUCTIONS, lifespan=lifespan)
    Smiles = Annotated[
        list[schemas.Smiles],
        Field(
            min_length=1, max_length=settings.max_molecules, description="SMILES strings, one per molecule"
        ),
    ]
    budget = min(DEFAULT_BUDGET, settings.max_budget)

    @server.tool()
    def list_components() -> dict[str, Any]:
        """The scoring components that score and optimize_start accept, and the score transforms."""
        from chemloop.score.registry import available_components
        from chemloop.score.transforms import TRANSFORMS

        return {
            "components": [{"name": n, "description": d} for n, d in available_components().items()],
            "transforms": sorted(TRANSFORMS),
        }

    @server.tool()
    @user_errors
    def properties(smiles: Smiles) -> dict[str, Any]:
        """Properties a medicinal chemist looks at first (MW, cLogP, TPSA, HBD/HBA, QED, SA score, ...)
        and PAINS/Brenk alerts, per molecule. An invalid SMILES gets a row with an error."""
        from chemloop.chem.mol import InvalidSmilesError
        from chemloop.molecules import properties as molecule_properties

        rows = []
        for s in smiles:
            try:
                rows.append(molecule_properties(s))
            except InvalidSmilesError as err:
                rows.append({"smiles": s, "error": str(err)})
        return {"molecules": rows}

    @server.tool()
    @user_errors
    def score(smiles: Smiles, components: Components, aggregate: Aggregate = "geometric") -> dict[str, Any]:
        """Score molecules with named components: the aggregate, each component's raw and transformed
        value, and why a score is zero or missing (an invalid SMILES scores 0 with the reason)."""
        from chemloop.molecules import score_molecules

        config = _score_config(components, aggregate, allow_slow=False)  # docking belongs in a job
        return {"molecules": _finite(score_molecules(smiles, config))}

    @server.tool()
    @user_errors
    def sample(  # the bounds of the HTTP API's schemas.SampleRequest
        num: Annotated[int, Field(ge=1, le=settings.max_samples, description="strings to generate")] = 100,
        seed: Annotated[schemas.Seed, Field(description="the same seed gives the same strings")] = 0,
        temperature: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False, description="0: greedy")] = 1.0,
        top_k: Annotated[int, Field(ge=0, le=1000, description="0 keeps every token")] = 0,
        top_p: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 1.0,
    ) -> dict[str, Any]:
        """Sample molecules from the server's chemical language model: each string with its validity,
        canonical SMILES and negative log-likelihood, and the batch's validity and uniqueness."""
        from chemloop.model.generate import sample as generate

        with resources.model_lock:
            report = generate(
                resources.model(), num, seed=seed, temperature=temperature, top_k=top_k, top_p=top_p
            )
        return {
            "model": settings.model,
            "validity": round(report.validity, 4),
            "uniqueness": round(report.uniqueness, 4),
            "molecules": _finite([m.__dict__ for m in report.molecules]),
        }

    @server.tool()
    @user_errors
    def optimize_start(
        components: Components,
        run: Annotated[
            schemas.RunIn | None,
            Field(
                description="options of the [run] table of `chemloop optimize`, each left out keeps its "
                f"default; budget: at most {settings.max_budget} oracle calls, {budget} if left out"
            ),
        ] = None,
        aggregate: Aggregate = "geometric",
    ) -> dict[str, Any]:
        """Start an RL optimization job that steers the model towards the score of these components.
        Returns the job; poll job_status with its id for progress and, once done, the top molecules."""
        from chemloop.config_files import validate
        from chemloop.rl.run import OptimizeConfig

        options = run.model_dump(exclude_unset=True) if run is not None else {}
        data = {
            "run": job_run_settings(options, settings, DEFAULT_BUDGET, ("run",)),
            "score": _score_config(components, aggregate),
        }
        config = validate(OptimizeConfig, data, "optimize_start arguments")
        return _finite(resources.jobs().start_optimize(config).to_dict())

    @server.tool()
    @user_errors
    def job_status(
        job_id: JobId,
        top: Annotated[int, Field(ge=1, le=100, description="result rows returned once done")] = 10,
    ) -> dict[str, Any]:
        """A job's status (queued, running, done, failed, cancelled) and progress; once done, its
        result: the top molecules of an optimize job, the proposed batch of a propose job."""
        jobs = resources.jobs()
        job = jobs.get(job_id)
        found = job.to_dict()
        name = RESULT_FILES.get(job.kind)
        if job.status == "done" and name is not None:
            found["result"] = _read_rows(jobs.file(job.id, name), top)
        return _finite(found)

    @server.tool()
    @user_errors
    def job_list() -> dict[str, Any]:
        """Every job this server knows, newest first."""
        return _finite({"jobs": [j.to_dict() for j in resources.jobs().list()]})

    @server.tool()
    @user_errors
    def job_cancel(job_id: JobId) -> dict[str, Any]:
        """Stop a queued or running job (a finished one is returned as it is)."""
        return _finite(resources.jobs().cancel(job_id).to_dict())

    @server.tool()
    @user_errors
    def campaign_status(campaign: Campaign) -> dict[str, Any]:
        """A design-make-test campaign: its rounds, molecules tested, best measured value per round,
        and the quality of its reward model."""
        from chemloop.loop.campaign import status

        return _finite(status(resources.factory(), campaign))

    @server.tool()
    @user_errors
    def campaign_propose(
        campaign: Campaign, batch: Annotated[int | None, schemas.ProposeRequest.model_fields["batch"]] = None
    ) -> dict[str, Any]:
        """Start a job that proposes the campaign's next batch to make and test (it fine-tunes the
        agent on the current reward: about a minute). Poll job_status with its id for the proposals."""
        from chemloop.loop.store import get_campaign, session_scope

        with session_scope(resources.factory()) as session:
            get_campaign(session, campaign)  # an unknown name fails now, not later inside the job
        return _finite(resources.jobs().start_propose(settings.db_url, campaign, batch).to_dict())

    return server


def _score_config(components: list[schemas.ComponentIn], aggregate: str, allow_slow: bool = True):
    """The layer's ScoreConfig; plugins and file parameters are refused, as for every outside request."""
    from chemloop.molecules import score_config

    tables = [c.model_dump(exclude_unset=True) for c in components]
    config = score_config(tables, allow_plugins=False, allow_slow=allow_slow)
    return config.model_copy(update={"aggregate": aggregate})


def _read_rows(path: Path, limit: int) -> list[dict[str, Any]]:
    with path.open(newline="") as handle:
        rows = itertools.islice(csv.DictReader(handle), limit)
        return [{k: _number(v) for k, v in row.items()} for row in rows]


def _number(text: str) -> Any:
    """A CSV cell as an int or a float where it is one (empty: None), else the text."""
    if text == "":
        return None
    for kind in (int, float):
        try:
            return _finite(kind(text))
        except ValueError:
            pass
    return text


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as None: JSON has no NaN, and a missing score reads as null."""
    return json.loads(json.dumps(value, default=str), parse_constant=lambda _: None)
