"""Text no store can hold is a 422 wherever it comes, never a 500 (on PostgreSQL a NUL in a
query parameter raised; SQLite stored it): the served app over HTTP, on both stores.

Each request is sent twice: with a NUL (or a lone surrogate, or a %-escape that is not UTF-8)
it is refused with 422 and changes nothing; the same request with clean text succeeds, so the
refusal is the text's and not the request's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import Engine, func, select

from opsbinder.store.db import session_scope
from opsbinder.store.models import AuditEntry, IncidentEvent, StatusUpdate
from tests.web.conftest import PASSWORD, World, csrf_of, sign_in

Send = Callable[[str], httpx.Response]


@pytest.fixture
def client(live_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server) as web:
        yield web


def rows(store: Engine) -> tuple[int, int, int]:
    with session_scope(store) as s:
        return (
            s.execute(select(func.count()).select_from(IncidentEvent)).scalar_one(),
            s.execute(select(func.count()).select_from(StatusUpdate)).scalar_one(),
            s.execute(select(func.count()).select_from(AuditEntry)).scalar_one(),
        )


def refused_then_done(store: Engine, send: Send, bad: str, good: str, done: int) -> None:
    before = rows(store)
    answer = send(bad)
    assert answer.status_code == 422, (bad, answer.status_code, answer.text[:300])
    assert "refused" in answer.text
    assert rows(store) == before, bad  # nothing written, not even an audit entry
    answer = send(good)
    assert answer.status_code == done, (good, answer.status_code, answer.text[:300])


def test_it_refuses_invalid_text_in_api_bodies_queries_and_paths(
    client: httpx.Client, store: Engine, world: World
) -> None:
    bearer = {"Authorization": f"Bearer {world.api_staff}"}
    notes = f"/api/v1/incidents/{world.incident_a}/notes"

    def note(body: str) -> httpx.Response:
        json = {**bearer, "Content-Type": "application/json"}
        return client.post(notes, content=body.encode(), headers=json)

    refused_then_done(store, note, '{"message": "db ok\\u0000"}', '{"message": "db ok"}', 201)
    refused_then_done(store, note, '{"message": "\\ud800 ok"}', '{"message": "ok"}', 201)
    refused_then_done(store, note, '{"message": "x", "a\\u0000": 1}', '{"message": "x"}', 201)

    def update(text: str) -> httpx.Response:
        fields = {"current_status": text, "next_steps": "restore", "business_impact": "none"}
        return client.post(
            f"/api/v1/incidents/{world.incident_a}/updates", json=fields, headers=bearer
        )

    refused_then_done(store, update, "NAS\x00 down", "NAS down", 201)

    def incidents(query: str) -> httpx.Response:
        return client.get(f"/api/v1/incidents?{query}", headers=bearer)

    refused_then_done(store, incidents, "client_id=nord%00hafen", "client_id=nordhafen", 200)
    refused_then_done(store, incidents, "client_id=nord%ffhafen", "client_id=nordhafen", 200)

    def status(path: str) -> httpx.Response:
        return client.get(f"/api/v1/status/{path}", headers=bearer)

    refused_then_done(store, status, "nord%00hafen", "nordhafen", 200)


def test_it_refuses_invalid_text_in_console_forms(
    client: httpx.Client, store: Engine, world: World
) -> None:
    def login(username: str) -> httpx.Response:
        csrf = csrf_of(client.get("/login").text)
        form = {"username": username, "password": PASSWORD, "csrf": csrf}
        return client.post("/login", data=form, follow_redirects=False)

    refused_then_done(store, login, "alice\x00", "alice", 303)
    sign_in(client)
    page = f"/console/incidents/{world.incident_a}"

    def note(message: str) -> httpx.Response:
        form = {"message": message, "csrf": csrf_of(client.get(page).text)}
        return client.post(f"{page}/note", data=form, follow_redirects=False)

    refused_then_done(store, note, "db\x00 ok", "db ok", 303)

    def update(text: str) -> httpx.Response:
        form = {
            "current_status": "NAS down",
            "next_steps": text,
            "business_impact": "none",
            "csrf": csrf_of(client.get(page).text),
        }
        return client.post(f"{page}/updates", data=form, follow_redirects=False)

    refused_then_done(store, update, "restore\x00", "restore", 303)
    with session_scope(store) as s:
        assert s.execute(select(StatusUpdate.next_steps)).scalars().all() == ["restore"]


def test_it_refuses_invalid_text_in_page_paths_and_queries(
    client: httpx.Client, store: Engine, world: World
) -> None:
    def status_page(path: str) -> httpx.Response:
        return client.get(f"/status/{path}", follow_redirects=False)

    token = f"?token={world.status_a}"
    refused_then_done(store, status_page, f"nord%00hafen{token}", f"nordhafen{token}", 303)

    def login_page(query: str) -> httpx.Response:
        return client.get(f"/login?{query}")

    refused_then_done(store, login_page, "next=/console%00", "next=/console", 200)
    answer = client.get("/status/nord%00hafen")
    assert "text/html" in answer.headers["content-type"] and "NUL" in answer.text
