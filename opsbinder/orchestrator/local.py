"""Running flows now: `opsbinder run` and `opsbinder demo` in this process, the console's and the
API's run-now in a process of its own (`launch_procedure`).

Without PREFECT_API_URL the first flow starts Prefect's ephemeral API (a local server process
on a random port, 5-40 s on a busy small machine), so nothing needs to be installed or started
first. `prefect_defaults` must run before Prefect is imported: Prefect reads its settings then.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
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

    with heartbeats_unless_a_server():
        return run_now(client_id, procedure_id, actor=actor, dry_run=dry_run, approve=approve)


def run_bundle(client_id: str, cadence: str, *, actor: str) -> list[Outcome]:
    from flows.catalog import run_bundle_now  # imports Prefect: only after prefect_defaults

    with heartbeats_unless_a_server():
        return run_bundle_now(client_id, cadence, actor=actor)


@contextmanager
def heartbeats_unless_a_server() -> Iterator[None]:
    """Flow-run heartbeats off when the runs go to Prefect's ephemeral API.

    Heartbeats feed a server's detection of crashed runs, a trigger the ephemeral API does not
    run (it lives in this process). Yet each sync flow run, each procedure of a bundle too,
    ends by waiting up to a second for its heartbeat thread to stop. A server named by
    PREFECT_API_URL keeps them."""
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        yield
        return
    with heartbeats_off():
        yield


@contextmanager
def heartbeats_off() -> Iterator[None]:
    """`temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})` leaves Prefect's default
    (180 s) in place outside its test harness (measured with Prefect 3.8.8); a settings object
    whose field is None turns them off."""
    import prefect.context

    current = prefect.context.get_settings_context()
    flows = current.settings.flows.model_copy(update={"heartbeat_frequency": None})
    settings = current.settings.model_copy(update={"flows": flows})
    with prefect.context.SettingsContext(profile=current.profile, settings=settings):
        yield


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
