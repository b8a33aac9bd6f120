"""`opsbinder binder verify`: a third party dry-runs every procedure against the live systems.

Each procedure gets one verification run, recorded as a `Run` with `verification=True` and
`dry_run=True` (so it never counts as work done in the history or the audit), mapped so:

    passed          -> outcome "ok"       (the dry run completed and found nothing wrong)
    failed          -> outcome "failed"   (it failed or raised; `reason` says why)
    not_verifiable  -> outcome "skipped"  (manual checklists: a person signs them off; or the
                                           kind reported it could not say)

`metrics["verification"]` carries the word itself, `reason` the why, `actor` the verifier.
The kind's own `run(ctx, proc, system)` does the work with `ctx.dry_run = True`; nothing here
knows how a purge or a backup check works.

The calendar: a verification is a dry run, and dry runs preview in maintenance windows and on
holidays (they change nothing, and a successor must be able to verify during a freeze), so a
procedure in a window is verified all the same and its reason says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Engine

from opsbinder import audit, environment, runs
from opsbinder.binder_store import client_binder
from opsbinder.calendar import suppression
from opsbinder.clock import Clock
from opsbinder.config.models import ClientBinder
from opsbinder.config.models import Procedure as ProcedureConfig
from opsbinder.procedures import registry
from opsbinder.procedures.context import ProcedureContext
from opsbinder.procedures.execution import calendar_note
from opsbinder.procedures.result import ProcedureResult
from opsbinder.store.db import session_scope

OUTCOME = {"passed": "ok", "failed": "failed", "not_verifiable": "skipped"}
MANUAL_REASON = "not verifiable: a person signs it off"


@dataclass(frozen=True)
class Verdict:
    procedure: str
    verdict: str  # passed | failed | not_verifiable
    reason: str
    run_id: int


def _scrub(text: str, binder: ClientBinder, environ: Mapping[str, str]) -> str:
    from opsbinder.handover.site import env_names
    from opsbinder.redaction import Redactor

    return Redactor([n for n, _ in env_names(binder)], environ)(text)


def _dry_run(
    engine: Engine,
    clock: Clock,
    binder: ClientBinder,
    proc: ProcedureConfig,
    actor: str,
    environ: Mapping[str, str],
) -> tuple[str, str, dict[str, object]]:
    if proc.kind == "manual":
        return "not_verifiable", MANUAL_REASON, {}
    ctx = ProcedureContext(
        client_id=binder.client.id,
        procedure_id=proc.id,
        clock=clock,
        store=engine,
        dry_run=True,
        actor=actor,
        environ=environ,
        timezone=binder.client.timezone,
        systems={s.id: s for s in binder.systems},
    )
    system = binder.system(proc.system) if proc.system else None
    try:
        result: ProcedureResult = registry.runner(proc.kind)(ctx, proc, system)
    except Exception as exc:  # a verifier reports every failure; it never stops at the first
        return "failed", f"{type(exc).__name__}: {exc}", {}
    metrics = dict(result.metrics)
    if result.status == "ok":
        return "passed", result.summary, metrics
    if result.status == "failed":
        return "failed", "; ".join(result.findings) or result.summary, metrics
    return "not_verifiable", f"not verifiable: {result.summary}", metrics


def verify_client(
    engine: Engine,
    client_id: str,
    clock: Clock,
    *,
    actor: str,
    environ: Mapping[str, str] | None = None,
) -> list[Verdict]:
    """Dry-run every active procedure of the client; one verification run recorded for each."""
    environ = environment.variables(environ)
    with session_scope(engine) as session:
        binder = client_binder(session, client_id)
    verdicts: list[Verdict] = []
    for proc in binder.procedures:
        with session_scope(engine) as session:
            run = runs.start_run(
                session,
                clock,
                client_id=client_id,
                procedure_key=proc.id,
                flow_run_id=None,
                scheduled_for=None,
                dry_run=True,
                actor=actor,
            )
            run.verification = True
            run_id = run.id
        # outside any transaction: the kind opens its own sessions (locks, history)
        verdict, reason, metrics = _dry_run(engine, clock, binder, proc, actor, environ)
        if window := suppression(binder, proc.id, clock.now()):
            reason = f"{reason} ({calendar_note(window)})"
        reason = _scrub(reason, binder, environ)[:2000]
        with session_scope(engine) as session:
            run = runs.finish_run(
                session,
                clock,
                run_id,
                ProcedureResult(
                    "ok" if verdict == "passed" else "failed" if verdict == "failed" else "skipped",
                    reason,
                    {**metrics, "verification": verdict},
                ),
                reason=reason,
            )
        verdicts.append(Verdict(proc.id, verdict, reason, run_id))
    with session_scope(engine) as session:
        audit.record(
            session,
            clock,
            actor=actor,
            action="binder.verified",
            object_type="client",
            object_id=client_id,
            client_id=client_id,
            details={v.procedure: v.verdict for v in verdicts},
        )
    return verdicts
