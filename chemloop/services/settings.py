"""Server settings: where the campaign database and job folders live, the API key, request limits.

Everything a request may touch on disk is fixed here, on the server side; a request never
names a path or a plugin.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path

from limits import parse_many
from pydantic import BaseModel, ConfigDict, Field, field_validator

from chemloop.config_files import validate
from chemloop.loop.store import DEFAULT_DB


class ServeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    db_url: str = Field(DEFAULT_DB, description="SQLAlchemy URL of the campaign database")
    api_key: str = Field(min_length=8, description="required by every mutating endpoint")
    runs_dir: Path = Field(Path("runs/serve"), description="job folders (optimize runs, proposals)")
    model: str = Field("prior", description="the model that /sample and new jobs use")
    max_molecules: int = Field(1000, ge=1, description="SMILES per score/properties request")
    max_samples: int = Field(2_000, ge=1, description="molecules per sample request (~6 s of CPU)")
    max_body_bytes: int = Field(2_000_000, ge=1024, description="largest request body accepted")
    max_budget: int = Field(20_000, ge=1, description="oracle-call budget cap of an optimize job")
    max_running_jobs: int = Field(1, ge=1, description="jobs run at once; more wait in a queue")
    max_busy_requests: int = Field(
        2, ge=1, description="score/sample/properties requests computed at once; more get 429 + Retry-After"
    )
    compute_timeout_s: float = Field(
        60.0, gt=0, description="longest a score/properties request may compute before it is stopped (422)"
    )
    compute_memory_mb: int = Field(
        4096, ge=256, description="memory a score/properties request's worker process may allocate"
    )
    rate_limit: str | None = Field(
        "120/minute",
        description="score/sample/properties requests per client address (e.g. '120/minute', "
        "'5/second'); more get 429 + Retry-After. Other endpoints are not limited. '' or None: off",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="addresses or networks (e.g. '127.0.0.1', '10.0.0.0/8') of reverse proxies whose "
        "X-Forwarded-For and X-Forwarded-Proto headers name the client; empty (the default): the client "
        "is the connection's remote address and those headers are ignored",
    )
    session_hours: float = Field(12.0, gt=0, le=24 * 30, description="how long a web sign-in lasts")
    max_sessions: int = Field(1000, ge=1, description="web sign-ins kept at once; the oldest go first")
    upload_ttl_seconds: int = Field(
        3600, ge=1, description="how long an uploaded file waits for the chemist to confirm its preview"
    )
    max_staged_uploads: int = Field(
        20,
        ge=1,
        description="uploads waiting for confirmation at once (each ≤ max_body_bytes); the oldest go first",
    )

    @field_validator("rate_limit")
    @classmethod
    def _one_rate_limit(cls, value: str | None) -> str | None:
        """A typo fails here, when the server starts, not at the first scoring request."""
        if not value:
            return None
        try:
            items = parse_many(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate limit such as '120/minute' or '5/second'") from None
        if len(items) != 1 or items[0].amount < 1:
            raise ValueError(f"{value!r}: give one limit of at least 1 request, such as '120/minute'")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        """Each entry an IP address or network, normalized ('10.1.2.3/8' → '10.0.0.0/8')."""
        networks = []
        for item in value:
            try:
                networks.append(str(ipaddress.ip_network(item.strip(), strict=False)))
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network such as '10.0.0.0/8'") from None
        return networks

    @classmethod
    def from_env(cls, **overrides) -> ServeSettings:
        """Settings from ``CHEMLOOP_DB``, ``CHEMLOOP_API_KEY``, ``CHEMLOOP_RATE_LIMIT`` (empty: no
        limit), ``CHEMLOOP_COMPUTE_TIMEOUT_S`` and ``CHEMLOOP_TRUSTED_PROXIES`` (comma-separated
        addresses or networks), then ``overrides``.

        Without a key in the environment a random one is made (``generated_key`` tells the
        caller to print it), so a server never starts with writes open to anyone.
        """
        values = {
            "db_url": os.environ.get("CHEMLOOP_DB", DEFAULT_DB),
            "api_key": os.environ.get("CHEMLOOP_API_KEY") or secrets.token_urlsafe(24),
        }
        if "CHEMLOOP_RATE_LIMIT" in os.environ:
            values["rate_limit"] = os.environ["CHEMLOOP_RATE_LIMIT"]
        if "CHEMLOOP_COMPUTE_TIMEOUT_S" in os.environ:
            values["compute_timeout_s"] = os.environ["CHEMLOOP_COMPUTE_TIMEOUT_S"]
        proxies = os.environ.get("CHEMLOOP_TRUSTED_PROXIES", "")
        values["trusted_proxies"] = [p for p in proxies.replace(",", " ").split() if p]
        values.update({k: v for k, v in overrides.items() if v is not None})
        # A bad CHEMLOOP_* value is a user error naming the setting, not a traceback.
        names = "CHEMLOOP_DB, CHEMLOOP_API_KEY, CHEMLOOP_RATE_LIMIT, CHEMLOOP_COMPUTE_TIMEOUT_S, …"
        return validate(cls, values, f"server settings ({names})")

    @property
    def generated_key(self) -> bool:
        return not os.environ.get("CHEMLOOP_API_KEY")
