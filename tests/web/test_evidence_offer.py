"""The status page offers the client's evidence packs, through the real app: the list on the
page and each file behind the page's own token rule, so another client's token, no token, a
file or month that is not there all get the page's 404."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import Engine

from opsbinder.clock import FrozenClock
from opsbinder.evidence.monthly import publish
from opsbinder.reports.report import Month
from tests.support.world import World

FEBRUARY = Month(2026, 2)  # the world's clock is in March 2026


@pytest.fixture
def packs(store: Engine, clock: FrozenClock, world: World, tmp_path: Path, monkeypatch) -> Path:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPSBINDER_HOME", str(tmp_path / "home"))
    for client in ("nordhafen", "lindqvist"):
        assert publish(store, clock, client, FEBRUARY, pdf=False).built
    return tmp_path / "home" / "evidence"


def test_the_page_lists_the_packs_and_serves_them_to_the_clients_token(web, world, packs):  # type: ignore[no-untyped-def]
    page = web.get(f"/status/nordhafen?token={world.status_a}").text
    link = "/status/nordhafen/evidence/2026-02/evidence.html"
    assert "Evidence packs" in page and f'href="{link}"' in page
    assert "evidence.pdf" not in page  # built without Chromium: not offered
    assert "/status/lindqvist/evidence" not in page
    html = web.get(link)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert html.headers["cache-control"] == "private, no-store"
    assert "Nordhafen Logistik GmbH — evidence pack 2026-02" in html.text
    manifest = web.get("/status/nordhafen/evidence/2026-02/manifest.sha256").text
    for line in manifest.splitlines():  # what was downloaded is what the manifest hashed
        digest, name = line.split("  ")
        body = web.get(f"/status/nordhafen/evidence/2026-02/{name}").content
        assert hashlib.sha256(body).hexdigest() == digest, name


def test_another_clients_token_gets_404_for_the_same_file(web, world, packs):  # type: ignore[no-untyped-def]
    url = "/status/nordhafen/evidence/2026-02/evidence.json"
    assert web.get(url).status_code == 404  # no token, no cookie
    assert web.get(f"{url}?token={world.status_b}").status_code == 404
    assert web.get(f"/status/lindqvist?token={world.status_b}").status_code == 200
    assert web.get(url).status_code == 404  # lindqvist's cookie opens lindqvist only
    own = web.get("/status/lindqvist/evidence/2026-02/evidence.json")
    assert own.status_code == 200 and '"id": "lindqvist"' in own.text
    assert web.get(f"{url}?token={world.status_a}").status_code == 200  # the setup serves it


@pytest.mark.parametrize(
    "path",
    [
        "2026-02/evidence.pdf",  # not built
        "2026-01/evidence.json",  # no such month
        "2026-02/secret.txt",  # not a file of a pack
        "2026-02/..%2F..%2Fopsbinder.db",
        "..%2F..%2Flindqvist/evidence.json",
    ],
)
def test_it_serves_only_files_of_complete_packs(web, world, packs, path):  # type: ignore[no-untyped-def]
    (packs / "nordhafen" / "2026-02" / "secret.txt").write_text("not offered")
    assert web.get(f"/status/nordhafen?token={world.status_a}").status_code == 200
    assert web.get(f"/status/nordhafen/evidence/{path}").status_code == 404


def test_a_pack_without_its_manifest_is_not_offered(web, world, packs):  # type: ignore[no-untyped-def]
    (packs / "nordhafen" / "2026-02" / "manifest.sha256").unlink()
    page = web.get(f"/status/nordhafen?token={world.status_a}").text
    assert "Evidence packs" not in page
    assert web.get("/status/nordhafen/evidence/2026-02/evidence.json").status_code == 404


def test_a_pack_published_while_the_page_is_kept_shows_without_a_render_in_a_request(  # type: ignore[no-untyped-def]
    web, world, store, clock, app, tmp_path, monkeypatch
):
    monkeypatch.setenv("OPSBINDER_HOME", str(tmp_path / "home"))
    assert "Evidence packs" not in web.get(f"/status/nordhafen?token={world.status_a}").text
    rendered = app.state.page_cache.renders
    assert publish(store, clock, "nordhafen", FEBRUARY, pdf=False).built
    page = web.get("/status/nordhafen").text
    assert 'href="/status/nordhafen/evidence/2026-02/evidence.html"' in page
    assert app.state.page_cache.renders == rendered  # the publisher rendered it


def test_a_pack_changed_by_hand_shows_after_the_next_sweep_pass(web, world, store, clock, packs):  # type: ignore[no-untyped-def]
    """No writer: the sweep's fingerprint check (one listing of the packs' folder) sees it."""
    from opsbinder import sweep

    assert "Evidence packs" in web.get(f"/status/nordhafen?token={world.status_a}").text
    (packs / "nordhafen" / "2026-02" / "manifest.sha256").unlink()
    assert "Evidence packs" in web.get("/status/nordhafen").text  # kept as it was
    assert sweep.step("status pages").does(store, clock, None)["rendered"] == ["nordhafen"]
    assert "Evidence packs" not in web.get("/status/nordhafen").text
