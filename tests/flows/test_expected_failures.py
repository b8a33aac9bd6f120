"""An expected failure leaves Prefect's engine log without a traceback; anything else keeps it."""

from __future__ import annotations

import logging

import pytest

from flows.expected_failures import FLOW_RUN_LOGGER, keep_out_of_the_log
from opsbinder.procedures.outcome import Outcome, ProcedureFailed

MODULE = "flows.expected_failures"


def _raised(exc: Exception) -> None:
    try:
        raise exc
    except Exception:
        logging.getLogger(FLOW_RUN_LOGGER).error(
            "Engine execution exited with unexpected exception", exc_info=True
        )


def test_it_drops_the_engines_traceback_of_an_expected_failure_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    keep_out_of_the_log()
    keep_out_of_the_log()  # once per process, however often the flow modules are imported
    ours = [f for f in logging.getLogger(FLOW_RUN_LOGGER).filters if type(f).__module__ == MODULE]
    assert len(ours) == 1
    stale = Outcome("acme", "check-backup", "backup_check", "failed", "backup is 3d old")
    with caplog.at_level(logging.ERROR, logger=FLOW_RUN_LOGGER):
        _raised(ConnectionError("store went away"))
        _raised(ProcedureFailed(stale))
    assert [r.exc_info[1].__class__.__name__ for r in caplog.records if r.exc_info] == [
        "ConnectionError"
    ]
