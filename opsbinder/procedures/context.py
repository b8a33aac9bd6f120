"""What a procedure kind's `run` receives besides its own config: one seam for time, secrets,
the store and progress, so the same function runs under Prefect, from the CLI and in tests.

Every kind module exposes `run(ctx: ProcedureContext, proc, system) -> ProcedureResult`, where
`proc` is the kind's pydantic model and `system` the binder system it names (or None).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from opsbinder import audit, environment
from opsbinder.clock import Clock
from opsbinder.errors import OpsbinderError
from opsbinder.store.db import session_scope

Progress = Callable[[int, int | None, str], None]  # done, total (None: unknown), message


def _no_progress(done: int, total: int | None, message: str) -> None:
    return None


@dataclass
class ProcedureContext:
    client_id: str
    procedure_id: str
    clock: Clock
    store: Engine
    dry_run: bool = False
    approve: bool = False
    actor: str = "scheduler"
    flow_run_id: str | None = None
    environ: Mapping[str, str] = field(default_factory=environment.variables)
    progress: Progress = _no_progress
    timezone: str = "UTC"  # the client's: where its calendar year ends (retentions)
    systems: Mapping[str, Any] = field(default_factory=dict)  # the binder's, by id (drills)

    def secret(self, variable: str, *, field_name: str) -> str:
        """The value of an environment variable the binder names; never logged."""
        where = f"{self.client_id}/{self.procedure_id}: {field_name}"
        return environment.secret(variable, where, self.environ)

    def audit(self, action: str, details: Mapping[str, Any]) -> None:
        """Record in the audit log what this procedure did to a client's data, under its name."""
        with session_scope(self.store) as session:
            audit.record(
                session,
                self.clock,
                actor=self.actor,
                action=action,
                object_type="procedure",
                object_id=f"{self.client_id}/{self.procedure_id}",
                client_id=self.client_id,
                details=dict(details),
            )

    def expand(self, path: str) -> str:
        """Paths in binders may use ${VARIABLES}; an unset one is an error, not an empty string."""
        expanded = _expand(path, self.environ)
        if "$" in expanded:
            raise OpsbinderError(
                f"{self.client_id}/{self.procedure_id}: path {path!r} uses a variable that is not set"
            )
        return expanded


def _expand(path: str, environ: Mapping[str, str]) -> str:
    import re

    return re.sub(
        r"\$\{(\w+)\}|\$(\w+)",
        lambda m: environ.get(m.group(1) or m.group(2), m.group(0)),
        path,
    )
