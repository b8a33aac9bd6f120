"""Settings read once from the environment, with typed parsing that fails loudly.

Every OPSBINDER_* variable the product reads is a field here; no other module reads the
environment for its own settings (secrets named in the binder, `url_env` and the like, are
read where they are used, by the name the binder gives).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from platformdirs import user_data_dir
from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from opsbinder.errors import BadInput


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPSBINDER_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path(user_data_dir("opsbinder", appauthor=False)))
    database_url: str | None = None
    config_dir: Path = Path("config")
    base_url: str = "http://127.0.0.1:8080"
    spool_dir: Path | None = None
    # who the audit log names for CLI actions (default: the login name); a claim, not a proof
    actor: str | None = Field(default=None, max_length=100)
    # the CLI proves to be this console user with this password (acting on a locked-down client,
    # lifting a lockdown); without the password the CLI asks for it
    admin: str | None = Field(default=None, max_length=100)
    admin_password: SecretStr | None = None
    # `opsbinder users add` takes the new user's password from here instead of asking
    new_password: SecretStr | None = None
    # signs the web session cookie; generated once under `home` when unset
    web_secret: SecretStr | None = None
    # console sign-ins end after this long without a request, and after session_hours at most
    session_idle_minutes: int = Field(default=120, ge=1, le=7 * 24 * 60)
    session_hours: int = Field(default=12, ge=1, le=31 * 24)
    # mark cookies Secure even when the request is not seen as HTTPS (TLS ends elsewhere)
    secure_cookies: bool = False
    # addresses of reverse proxies whose X-Forwarded-For/-Proto are believed (comma-separated,
    # "*" for any); unset: none, the peer's address and scheme are the request's
    trusted_proxies: str | None = Field(default=None, max_length=1000)
    # a request body larger than this is refused (413) before anything else reads it; above
    # the monitoring doors' own limits (Alertmanager's 1 MiB), which answer in their protocol
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024, le=1024**3)
    # the minutely sweep's period as the web server counts it (a kept page due this long
    # three times over, at least 3 minutes: nobody sweeps, the server renders it in the
    # background); 0: the server renders every request (no page kept)
    status_cache_seconds: float = Field(default=60.0, ge=0, le=3600)
    # each kept status page is rendered again (its hash chains checked against edits behind
    # opsbinder's back) once this many minutes after its last render, by the minutely sweep,
    # which renders at most `status_checks_per_pass` such pages a pass, the oldest first
    status_check_minutes: float = Field(default=15.0, ge=1, le=7 * 24 * 60)
    status_checks_per_pass: int = Field(default=20, ge=1, le=100_000)
    # Audit anchors: outside the store, signed with the key in the variable named here (else
    # a key generated once under home, mode 0600); optionally also sent to a webhook receiver.
    audit_anchor_file: Path | None = None
    audit_key_env: str = "OPSBINDER_AUDIT_KEY"
    audit_anchor_every: Annotated[int, Field(ge=0)] = 60  # seconds between two anchors at least
    audit_webhook_url_env: str | None = None
    audit_webhook_secret_env: str | None = None
    # Housekeeping (opsbinder.housekeeping, the daily `housekeeping` flow): how long opsbinder
    # keeps its own records. Runs stay at least 13 months, what the manager's report and the
    # evidence pack read; audit entries are never trimmed.
    housekeeping: bool = True
    keep_runs_days: int = Field(default=400, ge=397, le=36500)
    keep_outbox_days: int = Field(default=30, ge=1, le=36500)  # delivered or given up
    keep_sessions_days: int = Field(default=0, ge=0, le=3650)  # after a session's end
    keep_throttle_days: int = Field(default=7, ge=1, le=3650)  # after the last failure
    keep_spool_days: int = Field(default=90, ge=1, le=36500)  # rejected hook reports
    keep_prefect_days: int = Field(default=30, ge=1, le=36500)  # ended flow runs, logs
    # the monthly `evidence` flow: each client's previous month as a pack under home/evidence
    evidence_packs: bool = True
    # the plan guard: a table with more rows to trim than this in one run is left untouched
    # until a person runs `opsbinder housekeeping --approve` (a clock jump, a wrong retention)
    housekeeping_max_rows: int = Field(default=2_000_000, ge=0)  # 0: always ask

    @property
    def store_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'opsbinder.db'}"

    @property
    def spool(self) -> Path:
        return self.spool_dir or self.home / "spool"

    @property
    def anchor_file(self) -> Path:
        return self.audit_anchor_file or self.home / "audit-anchors.jsonl"

    @property
    def audit_key_file(self) -> Path:
        return self.home / "audit_anchor_key"


PREFIX = "OPSBINDER_"


@lru_cache(maxsize=1)
def _read(environment: frozenset[tuple[str, str]]) -> Settings:
    """The settings; a bad value is a one-line error naming the variable (never its value)."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = [
            f"{PREFIX}{'_'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
            for error in exc.errors()
        ]
        raise BadInput("; ".join(problems)) from None


class _Reader:
    """`get_settings()`: read once per environment. A process's environment does not change
    under it; one that runs many commands with different variables (tests do, through the CLI
    runner) gets each command's own values."""

    def __call__(self) -> Settings:
        return _read(frozenset((k, v) for k, v in os.environ.items() if k.startswith(PREFIX)))

    def cache_clear(self) -> None:
        _read.cache_clear()


get_settings = _Reader()
