"""Property-based tests of the whole OpenAPI spec (schemathesis): no request gets a 5xx.

Requests carry the API key, so the mutating endpoints are exercised past the key check. Jobs are
queued but never started (a job manager with no running slots), so propose and optimize requests
cost no more than the others; everything else runs for real on a fresh SQLite database.
"""

import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig

from chemloop.jobs import JobManager
from chemloop.loop import campaign
from chemloop.loop.config import CampaignConfig
from chemloop.serve.app import create_app
from chemloop.services.settings import ServeSettings

# Up to 60 generated requests for each of the API's operations: the slow tier.
pytestmark = pytest.mark.slow

KEY = "schemathesis-key-0123"
# Built at import: schemathesis parametrizes the test by the spec's operations while collecting it.
# (``schemathesis.pytest.from_fixture`` would allow a fixture, but fails under pytest 9.)
_folder = tempfile.TemporaryDirectory(prefix="chemloop-schemathesis-")
_app = create_app(
    ServeSettings(
        db_url=f"sqlite:///{Path(_folder.name) / 'campaigns.db'}",
        api_key=KEY,
        runs_dir=Path(_folder.name) / "runs",
        model="prior",  # the shipped prior: sampling 20 molecules takes well under a second
        max_molecules=20,
        max_samples=20,
        max_body_bytes=50_000,
        max_budget=100,
        rate_limit=None,  # every generated request comes from one address: a limit would answer 429s
    )
)
_app.state.workspace.jobs = JobManager(
    Path(_folder.name) / "runs", max_running=0
)  # jobs wait in the queue, never run
_app.state.workspace.model()  # loaded now, not inside the first request's time limit
# A campaign named as in the spec's path examples, so requests reach the campaign code, not only its 404.
campaign.init_campaign(
    _app.state.workspace.factory,
    "demo",
    CampaignConfig.model_validate({"reward": {"ensemble": 2, "hidden": 16, "epochs": 5, "cv_folds": 0}}),
)
# Valid and invalid requests alike: a bad value must get a 4xx, never a 5xx.
_config = SchemathesisConfig.from_dict({"generation": {"mode": "all"}})
schema = schemathesis.openapi.from_asgi("/openapi.json", _app, config=_config)


@schema.parametrize()
# derandomize: CI sees the same requests every run (explore more by raising max_examples locally)
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors(case):
    case.call_and_validate(headers={"X-API-Key": KEY}, checks=[not_a_server_error])
