"""How the web starts a "run now": the procedure's flow in a separate process.

The action itself (who may, the audit entry) is `opsbinder.actions.procedures.run_now`; this
module is only the launch, through `opsbinder.orchestrator.local.launch_procedure`, so a slow
procedure never holds a web worker.
"""

from __future__ import annotations

from opsbinder.actions.procedures import Launcher
from opsbinder.orchestrator.local import launch_procedure


def mode() -> str:
    """Always 'flow' now: the flows ship with opsbinder, so run-now always starts one (the
    'request' mode, recording only, dates from installs without them)."""
    return "flow"


launch_subprocess: Launcher = launch_procedure  # the default launcher, by its older name
