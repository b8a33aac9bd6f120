"""The actions both web doors offer, as requests: how to prepare an object each can succeed on,
how to send it through the console (a form with the session's CSRF token) or the API (JSON with
a bearer token), and how to tell whether it happened. Shared by the door tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from typing import Any

from sqlalchemy import Engine, select

from opsbinder.clock import FrozenClock
from opsbinder.incidents import lifecycle
from opsbinder.store.db import session_scope
from opsbinder.store.models import AuditEntry, Incident, IncidentEvent, Procedure, StatusUpdate
from tests.web.conftest import csrf_of

INCIDENT = (
    "acknowledge", "resolve", "reopen", "note", "assign", "stakeholder", "commander", "wait"
)  # fmt: skip
DECIDE = ("declare", "severity", "duplicate", "publish")
ACTIONS = (*INCIDENT, *DECIDE, "post_update", "run", "pause", "resume")

UPDATE = {"current_status": "Restoring", "next_steps": "Verify", "business_impact": "Orders down"}
_numbers = count(1)
_primary: dict[int, int] = {}  # a duplicate prepared -> the primary it is to be linked to


@dataclass(frozen=True)
class Door:
    """How one action goes through one door: (path, form or JSON body)."""

    console: tuple[str, dict[str, str]]
    api: tuple[str, dict[str, object]]


def door_for(action: str, object_id: int) -> Door:
    inc, proc = f"/console/incidents/{object_id}", f"/console/procedures/{object_id}"
    api, api_proc = f"/api/v1/incidents/{object_id}", f"/api/v1/procedures/{object_id}"
    return {
        "acknowledge": Door((f"{inc}/ack", {}), (f"{api}/acknowledge", {})),
        "resolve": Door((f"{inc}/resolve", {}), (f"{api}/resolve", {})),
        "reopen": Door((f"{inc}/reopen", {}), (f"{api}/reopen", {})),
        "note": Door((f"{inc}/note", {"message": "db ok"}), (f"{api}/notes", {"message": "db ok"})),
        "assign": Door(
            (f"{inc}/assign", {"assignee": "priya-nair"}),
            (f"{api}/assign", {"assignee": "priya-nair"}),
        ),
        "stakeholder": Door(
            (f"{inc}/stakeholders", {"contact": "mark-olsen"}),
            (f"{api}/stakeholders", {"contact": "mark-olsen"}),
        ),
        "commander": Door(
            (f"{inc}/commander", {"contact": "mark-olsen"}),
            (f"{api}/commander", {"contact": "mark-olsen"}),
        ),
        "declare": Door(
            ("/console/incidents", {**_declared(object_id), "client": "nordhafen"}),
            ("/api/v1/incidents", {**_declared(object_id), "client_id": "nordhafen"}),
        ),
        "severity": Door(
            (f"{inc}/severity", {"severity": "sev2", "message": "one site"}),
            (f"{api}/severity", {"severity": "sev2", "reason": "one site"}),
        ),
        "duplicate": Door(
            (f"{inc}/duplicate", {"primary": str(_primary.get(object_id, 0))}),
            (f"{api}/duplicate", {"primary_id": _primary.get(object_id, 1)}),
        ),
        "publish": Door(
            (f"{inc}/public", {"public_title": "Door test", "public_state": "identified"}),
            (f"{api}/public", {"public_title": "Door test", "public_state": "identified"}),
        ),
        "wait": Door((f"{inc}/wait", {}), (f"{api}/waiting", {"waiting": True})),
        "post_update": Door(
            (f"{inc}/updates", {**UPDATE, "force": "1"}),
            (f"{api}/updates", {**UPDATE, "force": True}),
        ),
        "run": Door((f"{proc}/run", {}), (f"{api_proc}/run", {})),
        "pause": Door((f"{proc}/pause", {}), (f"{api_proc}/pause", {})),
        "resume": Door((f"{proc}/resume", {}), (f"{api_proc}/resume", {})),
    }[action]


def _declared(number: int) -> dict[str, str]:
    return {"severity": "sev3", "title": f"declared by door {number}", "public_title": "Slow"}


def _fresh_incident(store: Engine, clock: FrozenClock, *, resolved: bool = False) -> int:
    with session_scope(store) as s:
        incident = lifecycle.trigger(
            s,
            clock,
            client_id="nordhafen",
            procedure_key=None,
            dedup_key=f"door-test:{next(_numbers)}",
            title="door test",
            severity="sev1",
            details={},
        )
        if resolved:
            lifecycle.resolve(s, clock, incident.id, actor="test")
        return incident.id


def _procedure(store: Engine, *, paused: bool) -> int:
    with session_scope(store) as s:
        proc = s.execute(
            select(Procedure).where(
                Procedure.client_id == "nordhafen", Procedure.key == "check-disk-space"
            )
        ).scalar_one()
        proc.paused = paused
        return proc.id


def prepare(store: Engine, clock: FrozenClock, action: str) -> int:
    """An object on which `action` can succeed, so any refusal is the rule's."""
    if action in ("run", "pause"):
        return _procedure(store, paused=False)
    if action == "resume":
        return _procedure(store, paused=True)
    if action == "declare":
        return next(_numbers)  # the number in the title of the incident to be declared
    if action == "duplicate":
        primary = _fresh_incident(store, clock)
        duplicate = _fresh_incident(store, clock)
        _primary[duplicate] = primary
        return duplicate
    return _fresh_incident(store, clock, resolved=action == "reopen")


def happened(store: Engine, action: str, object_id: int, launched: list[object]) -> bool:
    with session_scope(store) as s:
        if action in ("run", "pause", "resume"):
            proc = s.get(Procedure, object_id)
            assert proc is not None
            return {
                "run": bool(launched),
                "pause": proc.paused,
                "resume": not proc.paused,
            }[action]
        if action == "declare":
            title = _declared(object_id)["title"]
            return s.execute(select(Incident.id).where(Incident.title == title)).first() is not None
        incident = s.get(Incident, object_id)
        assert incident is not None
        kinds = set(
            s.execute(
                select(IncidentEvent.kind).where(IncidentEvent.incident_id == object_id)
            ).scalars()
        )
        updates = s.execute(select(StatusUpdate).where(StatusUpdate.incident_id == object_id))
        checks: dict[str, Callable[[], bool]] = {
            "acknowledge": lambda: incident.state == "acknowledged",
            "resolve": lambda: incident.state == "resolved",
            "reopen": lambda: incident.state == "triggered",
            "note": lambda: "note" in kinds,
            "assign": lambda: incident.assignee == "priya-nair",
            "stakeholder": lambda: "stakeholder_added" in kinds,
            "commander": lambda: incident.commander == "mark-olsen",
            "wait": lambda: "waiting_on_client" in kinds,
            "post_update": lambda: updates.first() is not None,
            "severity": lambda: incident.severity == "sev2",
            "duplicate": lambda: incident.primary_incident_id is not None,
            "publish": lambda: incident.public_state == "identified",
        }
        return checks[action]()


def refusals(store: Engine) -> int:
    with session_scope(store) as s:
        return len(
            s.execute(select(AuditEntry.id).where(AuditEntry.action == "access.refused")).all()
        )


def through_console(web: Any, path: str, form: dict[str, str]) -> bool:
    """Post the form as the signed-in user; True when done, False when refused (403)."""
    csrf = csrf_of(web.get("/console/procedures").text)
    answer = web.post(path, data={"csrf": csrf, **form}, follow_redirects=False)
    assert answer.status_code in (303, 403), (path, answer.status_code, answer.text[:300])
    if answer.status_code == 303:
        flashed = web.get(answer.headers["location"]).text
        assert 'class="flash flash-error"' not in flashed, (path, flashed)
    return bool(answer.status_code == 303)


def through_api(web: Any, token: str, path: str, body: dict[str, object]) -> bool:
    """Post the JSON with the token; True when done, False when refused (403)."""
    answer = web.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code in (200, 201, 403), (path, answer.status_code, answer.text[:300])
    return bool(answer.status_code != 403)
