"""A component under maintenance: a window of the binder that names it shows it "Under
maintenance" on the client's status page while it lasts, and marks the days it touched."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from opsbinder.clock import FrozenClock
from opsbinder.store import stored_pages
from opsbinder.store.db import session_scope
from opsbinder.store.models import Client
from tests.web.conftest import World

# the world's clock stands at Fri 20 Mar 2026 10:00 UTC (11:00 in Berlin)
NOW_TMS = {
    "name": "TMS database upgrade",
    "start": "2026-03-20T09:00:00+00:00",
    "end": "2026-03-20T12:00:00+00:00",
    "components": ["tms"],
}
PAST_WAREHOUSE = {
    "name": "Scanner firmware",
    "start": "2026-03-15T02:00:00+01:00",
    "end": "2026-03-15T04:00:00+01:00",
    "components": ["warehouse"],
}
NOW_PROCEDURES_ONLY = {
    "name": "Backup appliance swap",
    "start": "2026-03-20T08:00:00+00:00",
    "end": "2026-03-20T14:00:00+00:00",
    "procedures": ["check-tms-backup"],
}


def with_windows(store: Engine, clock: FrozenClock, *windows: dict[str, Any]) -> None:
    with session_scope(store) as s:
        client = s.get(Client, "nordhafen")
        assert client is not None
        client.definition = {**client.definition, "maintenance_windows": list(windows)}
        client.updated_at += timedelta(seconds=1)
        stored_pages.mark(s, clock, "nordhafen")  # as `opsbinder load` does: the page is redone


def services(web, world: World) -> dict[str, str]:  # type: ignore[no-untyped-def]
    answer = web.get(f"/status/nordhafen?token={world.status_a}")
    assert answer.status_code == 200
    shown = answer.text
    part = shown[
        shown.index('id="components"') : shown.index("</section>", shown.index('id="components"'))
    ]
    ids = ["tms", "warehouse", "backups"]
    cuts = [part.index(f'id="component-{c}"') for c in ids] + [len(part)]
    return {c: part[cuts[n] : cuts[n + 1]] for n, c in enumerate(ids)}


def levels(web, world: World) -> dict[str, str]:  # type: ignore[no-untyped-def]
    answer = web.get(
        "/api/v1/status/nordhafen", headers={"Authorization": f"Bearer {world.status_a}"}
    )
    assert answer.status_code == 200, answer.text
    return {c["id"]: c["status"] for c in answer.json()["components"]}


def test_it_shows_a_component_under_maintenance_while_a_window_naming_it_lasts(
    web, world, store, clock
):
    before = services(web, world)
    assert "Under maintenance" not in before["tms"]
    with_windows(store, clock, NOW_TMS, PAST_WAREHOUSE, NOW_PROCEDURES_ONLY)
    shown = services(web, world)
    assert "Under maintenance" in shown["tms"] and "level-maintenance" in shown["tms"]
    assert "Fri 20 Mar 2026: Under maintenance (maintenance: TMS database upgrade)" in shown["tms"]
    # a window that only pauses procedures names no service
    assert "Under maintenance" not in shown["backups"] and "Operational" in shown["backups"]
    # a past window: operational now, its day marked in the strip
    warehouse = shown["warehouse"]
    assert "level-operational" in warehouse
    assert "Sun 15 Mar 2026: Under maintenance (maintenance: Scanner firmware)" in warehouse
    assert "day-maintenance" in warehouse
    assert levels(web, world) == {
        "tms": "Under maintenance",
        "warehouse": "Operational",
        "backups": "Operational",
    }


def test_an_incident_during_the_work_still_shows_as_worse(web, world, store, clock):
    from sqlalchemy import text

    with_windows(store, clock, NOW_TMS)
    with store.begin() as conn:  # the world's open sev1 incident, on the TMS
        conn.execute(
            text("UPDATE incidents SET component = 'tms' WHERE id = :i"), {"i": world.incident_a}
        )
    assert levels(web, world)["tms"] == "Major outage"
    assert "maintenance: TMS database upgrade" in services(web, world)["tms"]  # the day names both
