"""Run now, pause and resume from the console and the API: one seam for each.

"Run now" records the request (audit) and starts the procedure's flow in a separate process
(`opsbinder.orchestrator.local.launch_procedure`) so a slow procedure never holds a web worker.
Pause and resume set `Procedure.paused` in the store through `opsbinder.pauses` (audited);
deployments follow the store's flag.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from opsbinder import audit
from opsbinder.clock import Clock
from opsbinder.errors import NotFound
from opsbinder.orchestrator.local import launch_procedure
from opsbinder.pauses import PauseTarget, set_paused
from opsbinder.store.models import Procedure


def mode() -> str:
    """Always 'flow' now: the flows ship with opsbinder, so run-now always starts one (the
    'request' mode, recording only, dates from installs without them)."""
    return "flow"


Launcher = Callable[[str, str, str], None]


launch_subprocess: Launcher = launch_procedure  # the default launcher, by its older name


def act(
    session: Session,
    clock: Clock,
    procedure_id: int,
    verb: str,
    *,
    actor: str,
    launch: Launcher | None = None,
) -> str:
    proc = session.get(Procedure, procedure_id)
    if proc is None or not proc.active:
        raise NotFound(f"procedure: no active procedure #{procedure_id}")
    label = f"{proc.client_id}/{proc.key}"
    if verb in {"pause", "resume"}:
        changed = set_paused(
            session, PauseTarget(proc.client_id, proc.key), verb == "pause", clock, actor
        )
        state = "paused" if verb == "pause" else "resumed"
        return f"{label} {state}." if changed else f"{label} was already {state}."
    how = mode()
    audit.record(
        session,
        clock,
        actor=actor,
        action="procedure.run_requested",
        object_type="procedure",
        object_id=label,
        client_id=proc.client_id,
        details={"mode": how},
    )
    if how == "flow":
        (launch or launch_subprocess)(proc.client_id, proc.key, actor)
        return f"{label}: run started; it appears under last runs when it has finished."
    return f"{label}: run requested and recorded (the flow catalog is not installed here)."
