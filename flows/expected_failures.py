"""Expected failures say so in one line: no traceback in the serve log or the run's logs.

A procedure that finds a stale backup ends its flow run Failed on purpose: flows/procedures.py
returns a Failed state holding a `RunFailed` (`opsbinder.errors`), and the hooks fire as for any
failure. Prefect's engine, running a deployment's flow run in a process of its own, then raises
that state's exception once more to end the process and logs it as "Engine execution exited
with unexpected exception" with a traceback (`flow_engine.run_flow`, its `error_logger`). The run
has already said why in one line ("Finished in state Failed('client/procedure failed: ...')"),
so that record is dropped when its exception is a RunFailed. Anything else keeps its traceback.
"""

from __future__ import annotations

import logging

from opsbinder.errors import RunFailed

FLOW_RUN_LOGGER = "prefect.flow_runs"


class DropExpectedFailures(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, RunFailed)


def keep_out_of_the_log() -> None:
    """Install the filter once per process (the flow modules call it when imported)."""
    logger = logging.getLogger(FLOW_RUN_LOGGER)
    if not any(isinstance(f, DropExpectedFailures) for f in logger.filters):
        logger.addFilter(DropExpectedFailures())
