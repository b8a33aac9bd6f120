"""State hooks of every procedure flow: they record, and page a failure's first step at once
(opsbinder.incidents.first_page); the sweep does every later step and retries what failed.

Attach with `@flow(on_failure=[on_failure], on_crashed=[on_crashed], on_completion=[on_completion])`.
The flow's parameters must carry `client_id` and `procedure_id` (bundles may omit the procedure:
their dedup key is then "{client}/{flow name}").

A hook never raises into Prefect. If the store cannot be written, the report goes to the local
spool (opsbinder.spool) and `opsbinder outbox replay` or the spool sweeper puts it in later.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine

from opsbinder.clock import SystemClock
from opsbinder.incidents import first_page
from opsbinder.incidents.hook_reports import HookReport, apply
from opsbinder.orchestrator import flow_runs
from opsbinder.settings import get_settings
from opsbinder.spool import spooled_notice
from opsbinder.spool import write as spool_write
from opsbinder.store.db import engine_for, session_scope

log = logging.getLogger("opsbinder.hooks")


def _report(kind: str, flow: Any, flow_run: Any, state: Any) -> HookReport | None:
    params = dict(getattr(flow_run, "parameters", None) or {})
    client_id = params.get("client_id")
    if not client_id:
        return None  # not a procedure flow: nothing to file it under
    if kind == "success" and getattr(state, "name", "") == "Skipped":
        return None  # skipped (maintenance window, holiday): proves nothing about a failure
    flow_run_id = str(flow_run.id) if getattr(flow_run, "id", None) else None
    message = ""
    if kind == "failure":
        message = str(getattr(state, "message", "") or "")[:4000]
    return HookReport(
        kind=kind,
        client_id=str(client_id),
        procedure_key=params.get("procedure_id") or params.get("procedure_key"),
        flow_run_id=flow_run_id,
        state_name=str(getattr(state, "name", "") or ""),
        at=SystemClock().now().isoformat(),
        message=message,
        flow_name=str(getattr(flow, "name", "") or ""),
        link=flow_runs.ui_link(flow_run_id) if kind == "failure" else None,
        log_lines=flow_runs.last_log_lines(flow_run_id) if kind == "failure" else [],
        dry_run=bool(params.get("dry_run")),
    )


def record(report: HookReport) -> str:
    """Into the store, else into the spool. Returns where it went: "store" or "spool"."""
    engine = engine_for(get_settings().store_url)
    try:
        with session_scope(engine) as session:
            incident = apply(session, SystemClock(), report)
            failed = incident.id if incident is not None and report.kind == "failure" else None
    except Exception as exc:
        path = spool_write(get_settings().spool, report.to_json())
        log.warning(spooled_notice(report.kind, path, exc))
        return "spool"
    if failed is not None:
        _page(engine, failed)
    return "store"


def _page(engine: Engine, incident_id: int) -> None:
    """The incident is recorded: a page that cannot go now goes with the next sweep."""
    try:
        first_page.page(engine, SystemClock(), incident_id)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        log.warning(
            f"incident #{incident_id} is paged by the next sweep, not at once "
            f"({type(exc).__name__}: {first})"
        )


def _hook(kind: str, flow: Any, flow_run: Any, state: Any) -> None:
    try:
        report = _report(kind, flow, flow_run, state)
        if report is not None:
            record(report)
    except Exception:  # the last resort: never raise into Prefect
        log.exception("opsbinder %s hook failed", kind)


def on_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """Failed and TimedOut runs (after retries are exhausted)."""
    _hook("failure", flow, flow_run, state)


def on_crashed(flow: Any, flow_run: Any, state: Any) -> None:
    """Crashed runs (SIGTERM, infrastructure); a SIGKILL leaves no hook: see opsbinder.missed."""
    _hook("failure", flow, flow_run, state)


def on_completion(flow: Any, flow_run: Any, state: Any) -> None:
    """A success closes the procedure's open incident when the procedure says auto_resolve."""
    _hook("success", flow, flow_run, state)


HOOKS: dict[str, Any] = {
    "on_failure": [on_failure],
    "on_crashed": [on_crashed],
    "on_completion": [on_completion],
}
