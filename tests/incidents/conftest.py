from __future__ import annotations

import shutil
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


def paged_binder(example_dir: Path, tmp_path: Path) -> Path:
    """The example client, with L1 and L2 people reachable through the ops-pager webhook."""
    folder = tmp_path / "binder"
    shutil.copytree(example_dir, folder)
    client = folder / "client.yaml"
    text = client.read_text()
    for level in ("L1", "L2"):
        plain = f"support_level: {level}}}"
        assert plain in text, f"the example has no {plain!r} left to give a webhook"
        text = text.replace(plain, f"support_level: {level}, webhook: ops-pager}}")
    client.write_text(text)
    return folder


@pytest.fixture
def paged(store: Engine, clock: FrozenClock, example_dir: Path, tmp_path: Path) -> Engine:
    with session_scope(store) as session:
        sync_binder(session, load_binder(paged_binder(example_dir, tmp_path)), clock)
    return store
