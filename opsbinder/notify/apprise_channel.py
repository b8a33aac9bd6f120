"""Chat and e-mail through apprise URLs.

Chat: the contact's `chat` apprise URL (the binder refuses URLs with passwords; a URL with a
token goes in an environment variable, named as `env:VARIABLE`). E-mail: the SMTP apprise URL
comes from the environment variable OPSBINDER_SMTP_URL (e.g. mailtos://user:pass@host?from=...)
and the contact's address is added as `to`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from opsbinder import environment
from opsbinder.notify import DeliveryError

SMTP_ENV = "OPSBINDER_SMTP_URL"


def resolve_url(route: dict[str, Any], environ: Mapping[str, str]) -> str:
    url = route.get("url") or ""
    if url.startswith("env:"):
        url = environment.secret(url[4:], "the chat URL", environ, DeliveryError)
    if route.get("email"):
        smtp = environment.secret(
            route.get("url_env") or SMTP_ENV, "an e-mail route", environ, DeliveryError
        )
        parts = urlsplit(smtp)
        query = (parts.query + "&" if parts.query else "") + urlencode({"to": route["email"]})
        url = urlunsplit(parts._replace(query=query))
    if not url:
        raise DeliveryError("apprise route without a URL")
    return url


def send(
    route: dict[str, Any],
    body: dict[str, Any],
    idempotency_key: str,
    *,
    at: datetime | None = None,
    environ: Mapping[str, str] | None = None,
) -> None:
    # imported here: apprise loads its plugins on import (~0.1 s), and every opsbinder process
    # that only names SMTP_ENV (redaction, the CLI's start) would pay it without sending
    import apprise

    url = resolve_url(route, environment.variables(environ))
    notifier = apprise.Apprise()
    if not notifier.add(url):
        raise DeliveryError(f"apprise cannot use the URL of {route.get('name', 'this route')}")
    title = str(body.get("title") or "opsbinder")
    text = str(body.get("text") or body.get("summary") or title)
    ok = notifier.notify(title=title, body=f"{text}\n\n[{idempotency_key}]")
    if not ok:
        raise DeliveryError(f"apprise could not deliver to {urlsplit(url).scheme}://…")
