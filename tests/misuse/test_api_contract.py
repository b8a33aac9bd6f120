"""What the API promises in /openapi.json is what it answers, read from a served app over HTTP:
every route documents the errors it can give (and gives them as documented), and every instant
it sends carries its offset, on SQLite (which hands back naive times) as on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.web.conftest import World

EVERY_ROUTE = {"401", "403", "413", "422"}


@pytest.fixture
def api(live_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server) as client:
        yield client


def operations(api: httpx.Client) -> Iterator[tuple[str, str, dict[str, Any]]]:
    document = api.get("/openapi.json").json()
    for path, methods in document["paths"].items():
        if path.startswith("/api/v1/"):
            for method, operation in methods.items():
                yield method, path, operation


def test_every_api_route_documents_the_errors_it_can_give(api: httpx.Client) -> None:
    seen = 0
    for method, path, operation in operations(api):
        documented = set(operation["responses"])
        expected = set(EVERY_ROUTE)
        if "{" in path:
            expected.add("404")  # a record by its id, or one the token does not see
        if method == "post" and ("{" in path or path == "/api/v1/incidents"):
            expected.add("409")  # acting on a record whose state may forbid it
        assert expected <= documented, (method, path, sorted(documented))
        for code in documented - {"200", "201"}:
            schema = operation["responses"][code]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Refusal"}, (method, path, code)
        seen += 1
    assert seen >= 15


def documented(api: httpx.Client, method: str, path: str) -> set[str]:
    return {
        code
        for m, p, operation in operations(api)
        if (m, p) == (method, path)
        for code in operation["responses"]
    }


def test_the_errors_it_gives_are_the_documented_ones(api: httpx.Client, world: World) -> None:
    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    ack = "/api/v1/incidents/{incident_id}/{verb}"
    given = {
        "401": api.post(f"/api/v1/incidents/{world.incident_a}/acknowledge"),
        "403": api.post(
            f"/api/v1/incidents/{world.incident_a}/acknowledge", headers=bearer(world.readonly)
        ),
        "404": api.post(  # another client's incident, for a token of one client
            f"/api/v1/incidents/{world.incident_b}/acknowledge", headers=bearer(world.api_a)
        ),
    }
    first = api.post(
        f"/api/v1/incidents/{world.incident_a}/acknowledge", headers=bearer(world.api_staff)
    )
    assert first.status_code == 200, first.text
    given["409"] = api.post(
        f"/api/v1/incidents/{world.incident_a}/acknowledge", headers=bearer(world.api_staff)
    )
    for code, answer in given.items():
        assert str(answer.status_code) == code, (code, answer.text)
        assert isinstance(answer.json()["detail"], str) and answer.json()["detail"]
        assert code in documented(api, "post", ack)


def instants(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for name, item in value.items():
            yield from instants(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from instants(item, key)
    elif isinstance(value, str) and (key == "at" or key.endswith(("_at", "_due"))):
        yield key, value


def test_every_instant_the_api_sends_carries_its_offset(api: httpx.Client, world: World) -> None:
    staff = {"Authorization": f"Bearer {world.api_staff}"}
    incident = f"/api/v1/incidents/{world.incident_a}"
    api.post(f"{incident}/acknowledge", headers=staff).raise_for_status()
    api.post(
        f"{incident}/updates",
        json={"current_status": "down", "next_steps": "restore", "business_impact": "none"},
        headers=staff,
    ).raise_for_status()
    checked = []
    for path in (incident, "/api/v1/incidents", f"{incident}/updates", "/api/v1/status/nordhafen"):
        answer = api.get(path, headers=staff)
        assert answer.status_code == 200, (path, answer.text)
        for key, text in instants(answer.json()):
            assert datetime.fromisoformat(text).utcoffset() is not None, (path, key, text)
            checked.append(key)
    assert {"opened_at", "acknowledged_at", "at", "posted_at", "next_update_at"} <= set(checked)
