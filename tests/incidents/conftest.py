from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from opsbinder.clock import FrozenClock
from opsbinder.config.loader import load_binder
from opsbinder.store.db import session_scope
from opsbinder.sync import sync_binder


@pytest.fixture
def loaded(store: Engine, clock: FrozenClock, example_dir: Path) -> Engine:
    """The store with the example client `nordhafen` loaded."""
    with session_scope(store) as session:
        sync_binder(session, load_binder(example_dir), clock)
    return store
