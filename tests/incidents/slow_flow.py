"""A procedure flow that starts its store run and then takes its time: killed with SIGKILL by
tests/incidents/test_missed.py to leave a zombie behind, as a crashed machine would."""

from __future__ import annotations

import sys
import time

from prefect import flow, runtime

from flows.hooks import on_completion, on_crashed, on_failure
from opsbinder.clock import SystemClock
from opsbinder.runs import start_run
from opsbinder.store.db import default_engine, session_scope


@flow(
    name="slow-procedure",
    on_failure=[on_failure],
    on_crashed=[on_crashed],
    on_completion=[on_completion],
)
def slow(client_id: str, procedure_id: str) -> None:
    with session_scope(default_engine()) as session:
        start_run(
            session,
            SystemClock(),
            client_id=client_id,
            procedure_key=procedure_id,
            flow_run_id=str(runtime.flow_run.id),
            scheduled_for=None,
        )
    print("started", flush=True)
    time.sleep(300)


if __name__ == "__main__":
    slow(client_id=sys.argv[1], procedure_id=sys.argv[2])
