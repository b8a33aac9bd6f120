"""The web app's secret and CSRF tokens.

The state cookie (CSRF token, messages, remembered status links; who is signed in is a
server-side session, see `web/sessions.py`) is signed with the `web_secret` setting
(OPSBINDER_WEB_SECRET); without it a random secret is generated once and kept under
OPSBINDER_HOME (mode 0600), so it survives a restart without anyone having to invent a key. Forms carry a per-session token compared in constant time
(synchroniser-token pattern): another site can make a browser post, but cannot read the token.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path
from typing import Any

from opsbinder.settings import get_settings


def web_secret() -> str:
    settings = get_settings()
    if settings.web_secret is not None and settings.web_secret.get_secret_value():
        return settings.web_secret.get_secret_value()
    path = Path(settings.home) / "web_secret"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


def csrf_token(session: dict[str, Any]) -> str:
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def csrf_ok(session: dict[str, Any], presented: str | None) -> bool:
    expected = session.get("csrf")
    return bool(expected and presented) and hmac.compare_digest(str(expected), str(presented))
