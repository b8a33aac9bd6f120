"""The export: a self-contained site a technician can open offline, with no secret in it."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from sqlalchemy import Engine

from opsbinder.clock import FrozenClock
from opsbinder.config.loader import load_binder
from opsbinder.handover.export import export_client
from opsbinder.store.db import session_scope


def _export(engine: Engine, clock: FrozenClock, out: Path) -> Path:
    with session_scope(engine) as session:
        export_client(session, "nordhafen", out, clock, actor="tester")
    return out


@pytest.mark.slow
def test_it_exports_a_site_where_every_link_resolves_and_no_page_is_empty(
    with_history: Engine, clock: FrozenClock, tmp_path: Path, browser: object
) -> None:
    out = _export(with_history, clock, tmp_path / "binder-out")
    page = browser.new_page()  # type: ignore[attr-defined]
    todo, seen, anchors = [out / "index.html"], set(), {}
    broken: list[str] = []
    while todo:
        html = todo.pop()
        if html in seen:
            continue
        seen.add(html)
        page.goto(html.as_uri())
        heading = page.locator("h1").first.inner_text().strip()
        body = page.locator("main").inner_text().strip()
        assert heading, f"{html.name}: no heading"
        assert len(body) > len(heading) + 40, f"{html.name}: no body text"
        anchors[html] = set(page.eval_on_selector_all("[id]", "els => els.map(e => e.id)"))
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
        for href in hrefs:
            parts = urlsplit(href)
            if parts.scheme in {"http", "https", "mailto"}:
                continue
            assert not parts.scheme, f"{html.name}: non-relative link {href}"
            target = (html.parent / unquote(parts.path)).resolve() if parts.path else html
            if not target.exists():
                broken.append(f"{html.relative_to(out)} -> {href}")
                continue
            if target.suffix == ".html":
                todo.append(target)
                if parts.fragment:
                    anchors.setdefault(("want", target), set()).add((parts.fragment, html.name))
    for key, wanted in list(anchors.items()):
        if isinstance(key, tuple):
            have = anchors.get(key[1], set())
            broken += [f"{src} -> {key[1].name}#{frag}" for frag, src in wanted if frag not in have]
    assert not broken, "broken links:\n" + "\n".join(broken)
    every_page = set(out.rglob("*.html"))
    assert seen == every_page, f"pages nobody links to: {every_page - seen}"
    assert len(every_page) >= 9 + 8


def test_it_shows_what_a_technician_needs_on_a_procedure_page(
    with_history: Engine, clock: FrozenClock, tmp_path: Path
) -> None:
    out = _export(with_history, clock, tmp_path / "x")
    purge = (out / "procedures" / "purge-tracking-events.html").read_text()
    for needed in (
        "The trucks",  # purpose
        "At 01:15, every day, Europe/Berlin time",
        "15 1 * * *",
        "Europe/Berlin",
        "Sat 2026-03-21 01:15 CET",  # next runs, in the schedule's zone
        "Lena Fischer",
        "L1",
        "Check the plan (dry run)",
        "SELECT min(recorded_at)",
        "restore them from the nightly dump",
        "opsbinder run nordhafen/purge-tracking-events",
    ):
        assert needed in purge, needed
    backup = (out / "procedures" / "check-tms-backup.html").read_text()
    assert "newest backup is 3 days old" in backup
    assert "incidents.html#incident-" in backup  # the failure's open incident, linked
    incidents = (out / "incidents.html").read_text()
    assert "Check last night&#39;s TMS backup failed" in incidents
    history = (out / "history.html").read_text()
    assert "purge-tracking-events" in history and "26-03" in history
    audit_page = (out / "audit-log.html").read_text()
    assert "hash chain verifies" in audit_page and "binder.exported" in audit_page
    manual = (out / "procedures" / "monthly-restore-test.html").read_text()
    assert "opsbinder done nordhafen/monthly-restore-test --note" in manual
    markdown = (out / "binder.md").read_text()
    for section in ("## Procedures", "## Escalation matrix", "## On-call rotation", "## Audit log"):
        assert section in markdown
    assert "At 01:15, every day, Europe/Berlin time" in markdown
    entry = (out / "binder" / "entrypoints.json").read_text()
    assert "purge-tracking-events" in entry and "opsbinder.procedures.examples:count_rows" in entry


def test_it_writes_a_machine_readable_binder_that_loads_back_identically(
    loaded: Engine, clock: FrozenClock, tmp_path: Path, example_dir: Path
) -> None:
    out = _export(loaded, clock, tmp_path / "x")
    again = load_binder(out / "binder").clients[0]
    original = load_binder(example_dir).clients[0]
    # where each item is written differs (the export has its own layout); nothing else does
    assert again.locations["procedures[check-disk-space]"].startswith("procedures.yaml:")
    same = {"exclude": {"locations"}}
    assert _by_id(again.model_dump(**same)) == _by_id(original.model_dump(**same))


def _by_id(data: dict) -> dict:
    """The store keeps procedures in key order; the order of the YAML list means nothing."""
    return {**data, "procedures": sorted(data["procedures"], key=lambda p: p["id"])}


def test_it_puts_no_secret_in_the_export_only_the_names_of_their_variables(
    with_history: Engine,
    clock: FrozenClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secrets = {
        "NORDHAFEN_TMS_DB_URL": "postgresql://tms:Hunter2-db-pass@db.nordhafen.example/tms",
        "OPSBINDER_PAGER_WEBHOOK_URL": "https://pager.example/hook/tok-9f8e7d6c5b4a",
        "OPSBINDER_PAGER_WEBHOOK_SECRET": "hmac-key-Zq81xV0p",
        "NORDHAFEN_BACKUP_DIR": "/srv/backup-share-7731",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    # a failure reason that quotes a connection string must not carry it into the binder
    from datetime import timedelta

    from tests.handover.conftest import add_run

    add_run(
        with_history,
        clock,
        "purge-tracking-events",
        "failed",
        timedelta(hours=1),
        reason=f"could not connect to {secrets['NORDHAFEN_TMS_DB_URL']}",
    )
    out = _export(with_history, clock, tmp_path / "x")
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) > 20
    for path in files:
        text = path.read_text(encoding="utf-8")
        for name, value in secrets.items():
            assert value not in text, f"{name}'s value leaked into {path.relative_to(out)}"
        assert "Hunter2-db-pass" not in text
    systems = (out / "systems.html").read_text()
    for name in secrets:
        assert name in systems


def test_it_refuses_to_overwrite_a_folder_and_leaves_nothing_half_written(
    loaded: Engine, clock: FrozenClock, tmp_path: Path
) -> None:
    from opsbinder.errors import Refused

    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(Refused, match="not empty"):
        _export(loaded, clock, out)
    assert sorted(os.listdir(out)) == ["keep.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]
