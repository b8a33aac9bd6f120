"""Webhook channel: a JSON POST, signed with HMAC-SHA256, carrying an idempotency key.

The receiver verifies `X-Opsbinder-Signature: sha256=<hex>` over the exact body bytes with the
shared secret, and drops a repeated `Idempotency-Key`: delivery is at least once (a crash between
the receiver's 200 and our bookkeeping resends), so the key is what makes it exactly once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from typing import Any

import requests

from opsbinder.notify import DeliveryError, env_value

SIGNATURE_HEADER = "X-Opsbinder-Signature"
TIMEOUT = (3.05, 10)


def body_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(signature(secret, body), header)


def send(
    route: dict[str, Any],
    body: dict[str, Any],
    idempotency_key: str,
    environ: Mapping[str, str] | None = None,
    session: requests.Session | None = None,
) -> None:
    """route: {"id", "url" | "url_env", "secret_env"?} as the binder's WebhookChannel says."""
    environ = os.environ if environ is None else environ
    name = f"webhook {route.get('id', '?')}"
    url = route.get("url") or env_value(environ, route.get("url_env") or "", f"{name} url_env")
    data = body_bytes(body)
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": idempotency_key,
        "User-Agent": "opsbinder",
    }
    if route.get("secret_env"):
        secret = env_value(environ, route["secret_env"], f"{name} secret_env")
        headers[SIGNATURE_HEADER] = signature(secret, data)
    try:
        response = (session or requests).post(url, data=data, headers=headers, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise DeliveryError(f"{name}: {type(exc).__name__}: {exc}"[:500]) from exc
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"{name}: HTTP {response.status_code} {response.text[:200]}")
