"""chemloop serve: the HTTP API, the web app for chemists, and their shared settings."""
