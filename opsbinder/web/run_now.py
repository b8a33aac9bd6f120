"""Run now, pause and resume from the console and the API: one seam for each.

"Run now" records the request (audit) and, when the flow catalog (`flows.catalog`) can be
imported, starts the procedure's flow in a separate process so a slow procedure never holds a web
worker. Without the catalog the request is only recorded, and the page says so.
Pause and resume set `Procedure.paused` in the store through `opsbinder.pauses` (audited);
deployments follow the store's flag.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable

from sqlalchemy.orm import Session

from opsbinder import audit
from opsbinder.clock import Clock
from opsbinder.errors import NotFound
from opsbinder.pauses import PauseTarget, set_paused
from opsbinder.store.models import Procedure


def mode() -> str:
    """'flow' when run-now starts the flow, 'request' when it only records the request."""
    try:
        return "flow" if importlib.util.find_spec("flows.catalog") is not None else "request"
    except (ImportError, ValueError):
        return "request"


Launcher = Callable[[str, str, str], None]


def launch_subprocess(client_id: str, key: str, actor: str) -> None:
    code = (
        "import sys; from flows.catalog import run_now; "
        "run_now(sys.argv[1], sys.argv[2], actor=sys.argv[3])"
    )
    subprocess.Popen(  # fixed code; arguments go as argv, no shell
        [sys.executable, "-c", code, client_id, key, actor],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=dict(os.environ),
    )


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
