"""The binder forms of issue 17, each in a variant of the example: loaded, exported in plain words,
and read back from the export identically (what `binder import` loads)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from opsbinder.clock import FrozenClock
from opsbinder.config.loader import load_binder
from opsbinder.handover.export import export_client
from opsbinder.store.db import session_scope
from tests.handover.conftest import load_variant

Data = dict[str, Any]


def _procedure(data: Data, pid: str) -> Data:
    return next(p for p in data["procedures"] if p["id"] == pid)


def _legal_retention(data: Data) -> None:
    params = _procedure(data, "purge-tracking-events")["params"]
    del params["retention_days"]
    params["retention"] = "10 years from the end of the year"
    params = _procedure(data, "archive-delivered-orders")["params"]
    del params["older_than_days"]
    params["older_than"] = "18 months"


# form -> (change to the example, page of the export, what that page must say)
FORMS: dict[str, tuple[Callable[[Data], None], str, list[str]]] = {
    "retention": (
        _legal_retention,
        "procedures/purge-tracking-events.html",
        [
            "rows are kept 10 years from the end of the calendar year of each record; "
            "a record of 2020 is kept until 31 December 2030",
            "retention: 10 years from the end of the year",
        ],
    ),
    "archive-after-months": (
        _legal_retention,
        "procedures/archive-delivered-orders.html",
        ["rows stay in the table 18 months: a record older than that goes (into the archive)"],
    ),
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_it_loads_exports_in_words_and_reads_back_each_form(
    form: str, store: Engine, clock: FrozenClock, example_dir: Path, tmp_path: Path
) -> None:
    change, page, words = FORMS[form]
    variant = load_variant(store, clock, example_dir, change)
    with session_scope(store) as session:
        export_client(session, "nordhafen", tmp_path / "out", clock, actor="tester")
    html = (tmp_path / "out" / page).read_text(encoding="utf-8")
    for said in words:
        assert said in html, said
    again = load_binder(tmp_path / "out" / "binder").clients[0]
    same: Any = {"exclude": {"locations"}}
    assert _by_id(again.model_dump(**same)) == _by_id(variant.model_dump(**same))


def _by_id(data: Data) -> Data:
    return {**data, "procedures": sorted(data["procedures"], key=lambda p: p["id"])}
