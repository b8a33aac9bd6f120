"""Webhook channel: a JSON POST signed per the Standard Webhooks specification.

Every request carries `webhook-id` (the message's idempotency key: the same on every retry of
one message, so a receiver drops what it has seen), `webhook-timestamp` (this attempt, Unix
seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`. Because
the id and the time are signed with the body, a captured request cannot be re-sent under
another id, and a receiver that refuses timestamps older than its tolerance (5 minutes in the
reference verifiers) and ids it has seen within it refuses every replay. The secret in
`secret_env` is a Standard Webhooks secret, `whsec_` followed by 24-64 random bytes in base64
(`echo "whsec_$(openssl rand -base64 32)"`); anything else is a delivery error naming the
variable, never a silent weaker signature. `Idempotency-Key` repeats the id for receivers
that dedup on it; the old `X-Opsbinder-Signature` (body only, replayable) is gone.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import string
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

import requests

from opsbinder import environment
from opsbinder.notify import DeliveryError
from opsbinder.redaction import Redactor

SECRET_PREFIX = "whsec_"
TIMEOUT = (3.05, 10)
_HEADER_SAFE = "".join(c for c in string.printable if c not in "%\r\n\t\x0b\x0c")


def body_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


def secret_bytes(value: str, where: str) -> bytes:
    """The key inside a `whsec_` secret; a raw or short secret is refused by name."""
    raw = b""
    if value.startswith(SECRET_PREFIX):
        try:
            raw = base64.b64decode(value[len(SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            raw = b""
    if not 24 <= len(raw) <= 64:
        raise DeliveryError(
            f"{where} does not hold a Standard Webhooks secret: whsec_ followed by 24-64 "
            'bytes in base64 (make one with: echo "whsec_$(openssl rand -base64 32)")'
        )
    return raw


def message_id(idempotency_key: str) -> str:
    """The key as a header value: printable ASCII, the same for every attempt."""
    return quote(idempotency_key, safe=_HEADER_SAFE)


def signature(secret: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def send(
    route: dict[str, Any],
    body: dict[str, Any],
    idempotency_key: str,
    *,
    at: datetime,
    environ: Mapping[str, str] | None = None,
    session: requests.Session | None = None,
    timeout: tuple[float, float] = TIMEOUT,
) -> None:
    """route: {"id", "url" | "url_env", "secret_env"?} as the binder's WebhookChannel says;
    `at` is this attempt's time, signed as webhook-timestamp; `timeout` (connect, read)."""
    environ = environment.variables(environ)
    name = f"webhook {route.get('id', '?')}"
    url = route.get("url") or environment.secret(
        route.get("url_env") or "", f"{name} url_env", environ, DeliveryError
    )
    data = body_bytes(body)
    msg_id = message_id(idempotency_key)
    timestamp = int(at.timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "opsbinder",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "Idempotency-Key": msg_id,
    }
    if route.get("secret_env"):
        where = f"{name}: secret_env {route['secret_env']}"
        secret = secret_bytes(
            environment.secret(route["secret_env"], f"{name} secret_env", environ, DeliveryError),
            where,
        )
        headers["webhook-signature"] = signature(secret, msg_id, timestamp, data)
    redact = Redactor([n for n in (route.get("url_env"), route.get("secret_env")) if n], environ)
    try:
        response = (session or requests).post(url, data=data, headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        raise DeliveryError(redact(f"{name}: {type(exc).__name__}: {exc}")[:500]) from exc
    if not 200 <= response.status_code < 300:
        raise DeliveryError(redact(f"{name}: HTTP {response.status_code} {response.text[:200]}"))
