"""One test base: named fixtures for the store on both backends, a frozen clock, Prefect.

Every test that touches data runs on SQLite and on PostgreSQL. Without a PostgreSQL server the
PostgreSQL half is skipped locally with the reason, and fails under CI=true.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

# Before anything imports Prefect: no telemetry, no network, a private PREFECT_HOME.
_HOME = Path(tempfile.mkdtemp(prefix="opsbinder-test-"))
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_HOME"] = str(_HOME / "prefect")
os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = "WARNING"
os.environ["OPSBINDER_HOME"] = str(_HOME / "opsbinder")
os.environ.pop("OPSBINDER_DATABASE_URL", None)
os.environ.pop("PREFECT_API_URL", None)

import pytest  # noqa: E402
from sqlalchemy import Engine  # noqa: E402

from opsbinder.clock import FrozenClock  # noqa: E402
from opsbinder.settings import get_settings  # noqa: E402
from tests.support import pg  # noqa: E402
from tests.support.store import clean_store, migrated_engine  # noqa: E402
from tests.support.world import World, cheap_password_hashing, seed  # noqa: E402

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "example"


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 3, 20, 10, 0, tzinfo=UTC))


@pytest.fixture
def example_dir() -> Path:
    return EXAMPLE


@pytest.fixture(scope="session")
def pg_available() -> bool:
    reason = pg.unavailable_reason()
    if reason is None:
        return True
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"CI=true and PostgreSQL is not usable: {reason}")
    return False


def _need_pg(available: bool) -> None:
    if not available:
        pytest.skip(f"PostgreSQL not reachable at {pg.ADMIN_URL} ({pg.unavailable_reason()})")


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, pg_available: bool) -> str:
    if request.param == "postgresql":
        _need_pg(pg_available)
    return request.param


@pytest.fixture(scope="session")
def _store_engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Engine]]:
    """One migrated store per backend per test process, dropped at the end of the session."""
    engines: dict[str, Engine] = {}
    yield engines
    for engine in engines.values():
        engine.dispose()


@pytest.fixture
def store_url(
    backend: str, tmp_path_factory: pytest.TempPathFactory, _store_engines: dict[str, Engine]
) -> str:
    return str(
        _engine_for(backend, tmp_path_factory, _store_engines).url.render_as_string(
            hide_password=False
        )
    )


def _engine_for(
    backend: str, factory: pytest.TempPathFactory, engines: dict[str, Engine]
) -> Engine:
    if backend not in engines:
        if backend == "sqlite":
            url = f"sqlite:///{factory.mktemp('store') / 'store.db'}"
        else:
            url = pg.create_database("store")
        engines[backend] = migrated_engine(url)
    return engines[backend]


@pytest.fixture
def store(
    backend: str,
    tmp_path_factory: pytest.TempPathFactory,
    _store_engines: dict[str, Engine],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Engine]:
    """A migrated, empty store on this test's backend; also what the CLI and flows will use."""
    engine = _engine_for(backend, tmp_path_factory, _store_engines)
    monkeypatch.setenv("OPSBINDER_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    # the store is emptied after each test, so its audit anchors must not outlive the test
    anchors = tmp_path_factory.mktemp("anchors") / "audit-anchors.jsonl"
    monkeypatch.setenv("OPSBINDER_AUDIT_ANCHOR_FILE", str(anchors))
    get_settings.cache_clear()
    try:
        yield engine
    finally:
        clean_store(engine)


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """A real Prefect API (the test harness) for the whole session, heartbeats off for speed."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with (
        prefect_test_harness(server_startup_timeout=180),
        temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        yield


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    pg.drop_created_databases()


@pytest.fixture
def two_clients(
    store: Engine, clock: FrozenClock, example_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> World:
    """Two clients with staff, tokens and an open Severity-1 incident each (tests/support/world)."""
    cheap_password_hashing(monkeypatch)
    return seed(store, clock, example_dir)
