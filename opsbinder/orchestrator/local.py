"""Running flows now: `opsbinder run` and `opsbinder demo` in this process, the console's and the
API's run-now in a process of its own (`launch_procedure`).

Without PREFECT_API_URL the first flow starts Prefect's ephemeral API (a local server process
on a random port, 5-40 s on a busy small machine), so nothing needs to be installed or started
first. `prefect_defaults` must run before Prefect is imported: Prefect reads its settings then.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from opsbinder import environment
from opsbinder.procedures.outcome import Outcome
from opsbinder.settings import get_settings

DEFAULTS = {
    "DO_NOT_TRACK": "1",  # no internet here, and no telemetry wanted anyway
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # failures are shown in opsbinder's own outcome table; the run logs stay in the Prefect API
    "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "CRITICAL",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
}


def prefect_defaults(*, home: Path | None = None) -> None:
    """Set what the user has not set; `home` becomes PREFECT_HOME when that is unset."""
    if "prefect" in sys.modules:
        return  # too late to matter, and the caller (a test harness) has chosen already
    environment.export(DEFAULTS)
    if home is not None:
        environment.export({"PREFECT_HOME": str(home)})


def prefect_home(default: Path) -> str:
    """Prefect's home as the next process will see it: the user's PREFECT_HOME, else `default`."""
    return environment.variables().get("PREFECT_HOME") or str(default)


def quiet_prefect_console() -> None:
    """Only CRITICAL messages from Prefect on the console, whatever the user's level: for a
    command whose own table says what failed, where Prefect's tracebacks would bury it."""
    environment.export({"PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "CRITICAL"}, replace=True)


def api_description() -> str:
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME

    url = PREFECT_API_URL.value()
    return (
        f"Prefect API {url}"
        if url
        else f"Prefect's ephemeral API (PREFECT_HOME={PREFECT_HOME.value()})"
    )


def run_procedure(
    client_id: str, procedure_id: str, *, actor: str, dry_run: bool = False, approve: bool = False
) -> Outcome:
    from flows.catalog import run_now  # imports Prefect: only after prefect_defaults

    return run_now(client_id, procedure_id, actor=actor, dry_run=dry_run, approve=approve)


def run_bundle(client_id: str, cadence: str, *, actor: str) -> list[Outcome]:
    from flows.catalog import run_bundle_now  # imports Prefect: only after prefect_defaults

    return run_bundle_now(client_id, cadence, actor=actor)


def launch_procedure(client_id: str, procedure_id: str, actor: str) -> None:
    """Start one run now in a process of its own and return at once, so a slow procedure never
    holds the caller (a web worker). Its outcome is recorded in the store like any run's; what
    the process prints (e.g. a Prefect API that did not start) goes to OPSBINDER_HOME/run-now.log.
    """
    code = (
        "import sys; from opsbinder.orchestrator.local import prefect_defaults, run_procedure; "
        "prefect_defaults(); run_procedure(sys.argv[1], sys.argv[2], actor=sys.argv[3])"
    )
    home = get_settings().home
    home.mkdir(parents=True, exist_ok=True)
    with (home / "run-now.log").open("ab") as log:
        subprocess.Popen(  # fixed code; arguments go as argv, no shell
            [sys.executable, "-c", code, client_id, procedure_id, actor],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=environment.for_child({}),
        )
