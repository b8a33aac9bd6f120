"""The flows by procedure kind, their entrypoints for deployments, and "run it now".

`FLOWS` and `ENTRYPOINTS` are what deployments/ builds from: every procedure flow takes
`(client_id, procedure_id, dry_run=False, approve=False, scheduled_for=None)`; the bundle
`(client_id, cadence)`. Retries and timeouts come from each procedure at run time (see
flows/procedures.py), so a deployment needs no per-procedure flow options.
"""

from __future__ import annotations

from prefect import Flow

from flows import bundles, procedures
from opsbinder.procedures.outcome import BundleFailed, Outcome, ProcedureFailed

FLOWS: dict[str, Flow] = {
    "purge": procedures.purge,
    "archive": procedures.archive,
    "backup_check": procedures.backup_check,
    "disk_check": procedures.disk_check,
    "update_reminder": procedures.update_reminder,
    "manual": procedures.manual,
    "custom": procedures.custom,
}
ENTRYPOINTS: dict[str, str] = {kind: f"flows/procedures.py:{kind}" for kind in FLOWS}
BUNDLE_ENTRYPOINT = "flows/bundles.py:bundle"
SWEEPER_ENTRYPOINTS: dict[str, str] = {"work-items": "flows/workitems.py:work_item_sweeper"}


def run_now(
    client_id: str,
    procedure_id: str,
    *,
    actor: str = "scheduler",
    dry_run: bool = False,
    approve: bool = False,
    kind: str | None = None,
) -> Outcome:
    """Run one procedure in this process (Prefect's ephemeral API unless PREFECT_API_URL is set)."""
    if kind is None:
        from opsbinder.binder_store import procedure_row
        from opsbinder.store.db import default_engine, session_scope

        with session_scope(default_engine()) as session:
            kind = procedure_row(session, client_id, procedure_id).kind
    state = FLOWS[kind](
        client_id=client_id,
        procedure_id=procedure_id,
        dry_run=dry_run,
        approve=approve,
        actor=actor,
        return_state=True,
    )
    return bundles.outcome_of(state, client_id, procedure_id, kind)


def run_bundle_now(client_id: str, cadence: str, *, actor: str = "scheduler") -> list[Outcome]:
    state = bundles.bundle(client_id=client_id, cadence=cadence, actor=actor, return_state=True)
    data = state.result(raise_on_failure=False)
    if isinstance(data, BundleFailed):
        return data.outcomes
    if isinstance(data, list):
        return [Outcome.from_dict(d) for d in data]
    if isinstance(data, BaseException):
        raise data
    raise RuntimeError(f"the bundle ended {state.name}: {state.message}")


__all__ = [
    "BUNDLE_ENTRYPOINT",
    "ENTRYPOINTS",
    "FLOWS",
    "ProcedureFailed",
    "run_bundle_now",
    "run_now",
]
