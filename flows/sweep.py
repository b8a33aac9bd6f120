"""The sweep flow: every step of `opsbinder.sweep`, in order, once a minute (flows/registry.py).

Each step is a task of its own, guarded, so one failing does not stop the others; the flow then
ends Failed with one line naming each failed step (a SweepFailed returned in a Failed state, not
raised: a step's own traceback is already in its task's log, once).
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.client.schemas.objects import State
from prefect.states import Failed

from flows import expected_failures
from flows.registry import SWEEP
from opsbinder.sweep import STEPS, failure, heap_set_aside
from tasks.sweep import sweep_step

expected_failures.keep_out_of_the_log()


@flow(name=SWEEP.flow.name, description=SWEEP.flow.description)
def sweep() -> dict[str, Any] | State[Any]:
    done: dict[str, Any] = {}
    failed: dict[str, BaseException] = {}
    with heap_set_aside():
        for step in STEPS:
            try:
                done[step.name] = sweep_step.with_options(
                    task_run_name=step.name, retries=step.retries
                )(step.name)
            except Exception as exc:  # the next steps still run
                failed[step.name] = exc
    if failed:
        ended = failure(failed, done)
        return Failed(message=str(ended), data=ended)
    return done
