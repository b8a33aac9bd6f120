"""A PagerDuty Events API v2 endpoint: tools that page PagerDuty page opsbinder instead.

`POST /v2/enqueue` takes the same event and gives the same answers as
https://events.pagerduty.com/v2/enqueue: 202 `{"status": "success", "message": "Event processed",
"dedup_key": ...}`, or 400 `{"status": "invalid event", "message": "Event object is invalid",
"errors": [...]}`. The routing key is an opsbinder integration key: it names the one client whose
incidents the event may open, acknowledge or resolve.

`POST /v2/change/enqueue` takes PagerDuty's change events (a deploy, a configuration push) the same
way and answers 202 `{"status": "success", "message": "Change event processed"}`: the change goes
on the key's client's timeline (`opsbinder.changes`) and never opens an incident.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from opsbinder import changes
from opsbinder.accounts import integration_key
from opsbinder.incidents import monitor_events
from opsbinder.incidents.monitor_events import MonitorEvent
from opsbinder.web.deps import DB, clock_of
from opsbinder.web.intake_body import BadJson, Body, parse_json, read_body, trimmed

router = APIRouter(include_in_schema=False)

MAX_EVENT_BYTES = 512 * 1024  # PagerDuty's own limit
ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
_TEXT_FIELDS = ("component", "group", "class", "timestamp")


async def event_body(request: Request) -> Body:
    return await read_body(request, MAX_EVENT_BYTES)


def invalid(*errors: str) -> JSONResponse:
    return JSONResponse(
        {"status": "invalid event", "message": "Event object is invalid", "errors": list(errors)},
        status_code=400,
    )


@router.post("/v2/enqueue")
@router.post("/v2/enqueue/")
def enqueue(
    request: Request, body: Body = Depends(event_body), session: Session = DB
) -> JSONResponse:
    raw = event_object(body)
    if isinstance(raw, JSONResponse):
        return raw
    errors, event = parse_event(raw)
    if event is None:
        return invalid(*errors)
    clock = clock_of(request)
    key = integration_key(session, clock, raw.get("routing_key"))
    if key is None or key.client_id is None:
        return invalid(UNKNOWN_KEY)
    monitor_events.apply(session, clock, key.client_id, event, actor=f"pagerduty:{key.name}"[:100])
    return JSONResponse(
        {"status": "success", "message": "Event processed", "dedup_key": event.dedup_key},
        status_code=202,
    )


@router.post("/v2/change/enqueue")
@router.post("/v2/change/enqueue/")
def change_enqueue(
    request: Request, body: Body = Depends(event_body), session: Session = DB
) -> JSONResponse:
    raw = event_object(body)
    if isinstance(raw, JSONResponse):
        return raw
    errors, change = parse_change(raw)
    if change is None:
        return invalid(*errors)
    clock = clock_of(request)
    key = integration_key(session, clock, raw.get("routing_key"))
    if key is None or key.client_id is None:
        return invalid(UNKNOWN_KEY)
    changes.record(session, clock, key.client_id, change, integration=key.name)
    return JSONResponse({"status": "success", "message": "Change event processed"}, status_code=202)


UNKNOWN_KEY = "'routing_key' is not a known integration key"


def event_object(body: Body) -> dict[str, Any] | JSONResponse:
    """The body as a JSON object, or PagerDuty's 400 saying why it is not one."""
    if body.truncated:
        return invalid(f"Event object is too large (max {MAX_EVENT_BYTES // 1024} KB)")
    try:
        raw = parse_json(body.data)
    except BadJson as exc:
        return invalid(str(exc))
    if not isinstance(raw, dict):
        return invalid("Event object must be a JSON object")
    return raw


def parse_change(raw: dict[str, Any]) -> tuple[list[str], changes.Change | None]:
    """The change event, or every reason it is not one."""
    errors: list[str] = []
    if not _text(raw.get("routing_key")):
        errors.append("'routing_key' is missing or blank")
    payload = raw.get("payload")
    if not isinstance(payload, dict):
        return [*errors, "'payload' is missing or not an object"], None
    if not _text(payload.get("summary")):
        errors.append("'payload.summary' is missing or blank")
    source = payload.get("source")
    if source is not None and (not isinstance(source, str) or len(source) > 255):
        errors.append("'payload.source' must be a string of at most 255 characters")
    timestamp = _timestamp(payload.get("timestamp"))
    if payload.get("timestamp") is not None and timestamp is None:
        errors.append("'payload.timestamp' is invalid (must be an ISO 8601 date and time)")
    links = raw.get("links", [])
    if not isinstance(links, list) or not all(_link(link) for link in links):
        errors.append("'links' must be a list of objects with an http(s) 'href'")
    if errors:
        return errors, None
    change = changes.Change(
        summary=payload["summary"][:1024],
        source=source or "",
        timestamp=timestamp,
        custom_details=trimmed(payload.get("custom_details")),
        links=[
            {"href": link["href"][:2000], "text": str(link.get("text") or "")[:500]}
            for link in links[:20]
        ],
    )
    return [], change


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)  # PagerDuty: UTC


def _link(value: Any) -> bool:
    """A link people will click in the console: a web address, never `javascript:`."""
    href = value.get("href") if isinstance(value, dict) else None
    return isinstance(href, str) and href.lower().startswith(("https://", "http://"))


def parse_event(raw: dict[str, Any]) -> tuple[list[str], MonitorEvent | None]:
    """The event, or every reason it is not one (PagerDuty's wording where it has one)."""
    errors: list[str] = []
    if not _text(raw.get("routing_key")):
        errors.append("'routing_key' is missing or blank")
    action = raw.get("event_action")
    if not _text(action):
        errors.append("'event_action' is missing or blank")
    elif action not in ACTIONS:
        errors.append(
            "'event_action' is invalid (must be one of the following: "
            "'trigger', 'acknowledge' or 'resolve')"
        )
    dedup = raw.get("dedup_key")
    if dedup is not None and not isinstance(dedup, str):
        errors.append("'dedup_key' must be a string")
    elif isinstance(dedup, str) and len(dedup) > 255:
        errors.append("'dedup_key' is too long (must be at most 255 characters)")
    elif not dedup and action in ("acknowledge", "resolve"):
        errors.append("'dedup_key' is missing or blank")
    payload = raw.get("payload")
    if action == "trigger":
        errors.extend(_payload_errors(payload))
    if errors:
        return errors, None
    assert isinstance(action, str)
    dedup_key = dedup if isinstance(dedup, str) and dedup else uuid.uuid4().hex
    if action != "trigger":
        return [], MonitorEvent("pagerduty", action, dedup_key)  # type: ignore[arg-type]
    assert isinstance(payload, dict)
    attributes = {
        name: payload[name]
        for name in ("source", "severity", *_TEXT_FIELDS)
        if isinstance(payload.get(name), str)
    }
    details = {
        "pd_source": payload["source"],
        "custom_details": trimmed(payload.get("custom_details")),
        "group": payload.get("group"),
        "class": payload.get("class"),
        "client": _short(raw.get("client")),
        "client_url": _short(raw.get("client_url")),
        "links": trimmed(raw.get("links"), 2000),
    }
    event = MonitorEvent(
        "pagerduty",
        "trigger",
        dedup_key,
        summary=payload["summary"][:1024],
        severity=payload["severity"],
        component=payload.get("component"),
        attributes=attributes,
        details={k: v for k, v in details.items() if v is not None},
    )
    return [], event


def _payload_errors(payload: Any) -> list[str]:
    if not isinstance(payload, dict):
        return ["'payload' is missing or not an object"]
    errors = []
    if not _text(payload.get("summary")):
        errors.append("'payload.summary' is missing or blank")
    if not _text(payload.get("source")):
        errors.append("'payload.source' is missing or blank")
    elif len(payload["source"]) > 255:
        errors.append("'payload.source' is too long (must be at most 255 characters)")
    severity = payload.get("severity")
    if not _text(severity):
        errors.append("'payload.severity' is missing or blank")
    elif severity not in SEVERITIES:
        errors.append(
            "'payload.severity' is invalid (must be one of the following: "
            "'critical', 'warning', 'error' or 'info')"
        )
    for name in _TEXT_FIELDS:
        value = payload.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > 255):
            errors.append(f"'payload.{name}' must be a string of at most 255 characters")
    return errors


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _short(value: Any) -> str | None:
    return value[:500] if isinstance(value, str) else None
