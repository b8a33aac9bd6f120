"""Prefect's flow-run heartbeats switched off in this process, outside the test harness.

Every sync flow run, subflows included, ends by joining its heartbeat thread, which sleeps in
one-second steps: up to a second per flow run. Inside `prefect_test_harness`,
`temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})` turns them off; against the
ephemeral API (bench/bundle.py) the default of 180 s stays, as measured with Prefect 3.8.8. A
settings object with the field set to None works in both.
Production keeps heartbeats on: they feed the server's detection of crashed runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def heartbeats_off() -> Iterator[None]:
    import prefect.context
    from prefect.settings import get_current_settings

    current = prefect.context.get_settings_context()
    flows = current.settings.flows.model_copy(update={"heartbeat_frequency": None})
    settings = current.settings.model_copy(update={"flows": flows})
    with prefect.context.SettingsContext(profile=current.profile, settings=settings):
        assert get_current_settings().flows.heartbeat_frequency is None
        yield
