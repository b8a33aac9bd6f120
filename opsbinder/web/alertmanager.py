"""A Prometheus Alertmanager webhook receiver (payload version 4).

Point a `webhook_configs` receiver at `/alertmanager` with the integration key as bearer token
(`http_config.authorization.credentials`), or at `/alertmanager/<key>` for tools that cannot
send a header. Firing alerts open incidents, resolved ones resolve them: one incident per alert
fingerprint, or one per notification group (binder: `events.alertmanager.incident_per`).

Answers: 200 `{"status": "success", ...}`; 400 `{"status": "invalid payload", "message": ...,
"errors": [...]}`; 401 for a missing or unknown key; 403, with nothing applied, when an alert is
labelled for another client than the key's.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from opsbinder.accounts import integration_key
from opsbinder.config.models import AlertmanagerRules
from opsbinder.incidents import monitor_events
from opsbinder.incidents.monitor_events import MonitorEvent
from opsbinder.web.deps import DB, clock_of
from opsbinder.web.intake_body import BadJson, Body, parse_json, read_body, trimmed

router = APIRouter(include_in_schema=False)

MAX_BYTES = 1024 * 1024
MAX_ALERTS = 1000


async def webhook_body(request: Request) -> Body:
    return await read_body(request, MAX_BYTES)


def _answer(status: int, state: str, message: str, errors: list[str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"status": state, "message": message}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status)


@router.post("/alertmanager")
@router.post("/alertmanager/{key}")
def receive(
    request: Request,
    key: str | None = None,
    body: Body = Depends(webhook_body),
    session: Session = DB,
) -> JSONResponse:
    header = request.headers.get("authorization", "")
    presented = key or (header[7:].strip() if header[:7].lower() == "bearer " else None)
    clock = clock_of(request)
    row = integration_key(session, clock, presented)
    if row is None or row.client_id is None:
        return _answer(401, "unauthorized", "an integration key is required (bearer or URL path)")
    if body.truncated:
        return _answer(400, "invalid payload", "payload too large", [f"max {MAX_BYTES} bytes"])
    try:
        raw = parse_json(body.data)
    except BadJson as exc:
        return _answer(400, "invalid payload", "payload is not JSON", [str(exc)])
    errors = payload_errors(raw)
    if errors:
        return _answer(400, "invalid payload", "not an Alertmanager v4 payload", errors)
    rules = monitor_events.rules_of(session, row.client_id).alertmanager
    foreign = _foreign(raw, rules, row.client_id)
    if foreign:
        return _answer(
            403,
            "refused",
            f"alert labelled {rules.client_label}={foreign!r}; this key belongs to "
            f"{row.client_id!r}. Nothing was applied.",
        )
    actor = f"alertmanager:{row.name}"[:100]
    events = list(_events(raw, rules))
    for event in events:
        monitor_events.apply(session, clock, row.client_id, event, actor=actor)
    return _answer(200, "success", f"{len(events)} event(s) processed")


def payload_errors(raw: Any) -> list[str]:
    if not isinstance(raw, dict):
        return ["the payload must be a JSON object"]
    errors = []
    if raw.get("version") != "4":
        errors.append(f"'version' must be \"4\", not {str(raw.get('version'))[:20]!r}")
    if raw.get("status") not in ("firing", "resolved"):
        errors.append("'status' must be 'firing' or 'resolved'")
    if not isinstance(raw.get("groupKey"), str) or len(raw["groupKey"]) > 5000:
        errors.append("'groupKey' must be a string")
    alerts = raw.get("alerts")
    if not isinstance(alerts, list) or not alerts or len(alerts) > MAX_ALERTS:
        errors.append(f"'alerts' must be a list of 1 to {MAX_ALERTS} alerts")
        return errors
    for i, alert in enumerate(alerts):
        if not isinstance(alert, dict):
            errors.append(f"'alerts[{i}]' must be an object")
            continue
        if alert.get("status") not in ("firing", "resolved"):
            errors.append(f"'alerts[{i}].status' must be 'firing' or 'resolved'")
        for name in ("labels", "annotations"):
            if not _string_map(alert.get(name, {})):
                errors.append(f"'alerts[{i}].{name}' must map strings to strings")
        if not isinstance(alert.get("fingerprint", ""), str):
            errors.append(f"'alerts[{i}].fingerprint' must be a string")
    for name in ("groupLabels", "commonLabels", "commonAnnotations"):
        if not _string_map(raw.get(name, {})):
            errors.append(f"'{name}' must map strings to strings")
    return errors[:20]


def _string_map(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(v, str) and len(k) <= 200 and len(v) <= 10_000 for k, v in value.items()
    )


def _foreign(raw: dict[str, Any], rules: AlertmanagerRules, client_id: str) -> str | None:
    for alert in raw["alerts"]:
        named = alert.get("labels", {}).get(rules.client_label)
        if named is not None and named != client_id:
            return str(named)[:100]
    return None


def _events(raw: dict[str, Any], rules: AlertmanagerRules) -> list[MonitorEvent]:
    if rules.incident_per == "group":
        labels = {**raw.get("commonLabels", {}), **raw.get("groupLabels", {})}
        first = raw["alerts"][0]
        annotations = {**first.get("annotations", {}), **raw.get("commonAnnotations", {})}
        firing = sum(a["status"] == "firing" for a in raw["alerts"])
        details = {"alerts": firing, "external_url": str(raw.get("externalURL", ""))[:500]}
        return [_event(raw["status"], raw["groupKey"], labels, annotations, details, rules)]
    events = []
    for alert in raw["alerts"]:
        labels = alert.get("labels", {})
        fingerprint = alert.get("fingerprint") or _fingerprint(labels)
        details = {
            "starts_at": str(alert.get("startsAt", ""))[:40],
            "generator_url": str(alert.get("generatorURL", ""))[:500],
        }
        events.append(
            _event(
                alert["status"], fingerprint, labels, alert.get("annotations", {}), details, rules
            )
        )
    return events


def _event(
    status: str,
    dedup_key: str,
    labels: dict[str, str],
    annotations: dict[str, str],
    details: dict[str, Any],
    rules: AlertmanagerRules,
) -> MonitorEvent:
    summary = (
        annotations.get("summary")
        or annotations.get("description")
        or labels.get("alertname")
        or "Alertmanager alert"
    )
    return MonitorEvent(
        "alertmanager",
        "trigger" if status == "firing" else "resolve",
        dedup_key,
        summary=summary[:1024],
        severity=labels.get(rules.severity_label),
        component=labels.get(rules.component_label),
        attributes=dict(labels),
        details={
            **details,
            "labels": trimmed(labels, 4000),
            "annotations": trimmed(annotations, 4000),
        },
    )


def _fingerprint(labels: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]
