"""Secrets never leave through an error: one redaction for everything stored or printed.

A secret reaches opsbinder only as the value of an environment variable the binder names
(`url_env`, `secret_env`, a system's `url_env`, a chat URL given as `env:NAME`, `${NAME}` in a
path) or that opsbinder itself reads (the SMTP URL, the store URL, the audit key and webhook).
Errors quote those values whole or in pieces — a client library names the path and query of
the URL it failed on, not the URL — so every value is replaced, with the pieces of it that are
long enough to be secret, by `${NAME}`; a password inside any URL is masked as well. Applied
where errors are kept (outbox, incident timeline, runs, audit details) and where they are
printed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opsbinder import environment
from opsbinder.settings import get_settings
from opsbinder.store.models import Client, Procedure

MIN_SECRET = 6  # shorter values and pieces ("1", "true") would blank out ordinary words
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/@:\s]*:)(?P<pw>[^/@\s]+)(?=@)", re.I)
_VAR = re.compile(r"\$\{(\w+)\}|\$([A-Z_][A-Z0-9_]*)")
_CACHE: dict[tuple[Any, ...], frozenset[str]] = {}
_INFO = "opsbinder.secret_names"


def fragments(value: str) -> set[str]:
    """The value and the parts of it an error may quote on their own (a URL's password, query,
    path with query, each query value, percent-encoded or not)."""
    found = {value}
    if "://" in value:
        try:
            parts = urlsplit(value)
            password = parts.password
        except ValueError:
            return found
        if password:
            found |= {password, unquote(password)}
        if parts.query:
            found |= {parts.query, f"{parts.path}?{parts.query}", unquote(parts.query)}
            for _, item in parse_qsl(parts.query, keep_blank_values=True):
                found |= {item, quote(item, safe=""), quote(item)}
    return {piece for piece in found if len(piece) >= MIN_SECRET}


class Redactor:
    """Replaces the values of the named variables (and URL passwords) wherever they appear."""

    def __init__(self, names: Iterable[str], environ: Mapping[str, str] | None = None) -> None:
        environ = environment.variables(environ)
        pairs = {(piece, name) for name in names for piece in fragments(environ.get(name) or "")}
        self._pairs = sorted(pairs, key=lambda p: (-len(p[0]), p[1]))

    def __call__(self, text: str) -> str:
        for value, name in self._pairs:
            if value in text:
                text = text.replace(value, f"${{{name}}}")
        return _URL_PASSWORD.sub(lambda m: m.group("head") + "***", text)

    def deep(self, value: Any) -> Any:
        """The same for every string inside JSON-like data (details, payloads)."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {k: self.deep(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.deep(v) for v in value]
        return value


def names_in(definition: Any) -> set[str]:
    """Every variable a binder (or a route, or any part of one, as JSON) names."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str) and str(key).endswith("_env"):
                    found.add(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, str):
            if node.startswith("env:"):
                found.add(node[4:])
            for match in _VAR.finditer(node):
                found.add(match.group(1) or match.group(2))

    walk(definition)
    return found


def own_names() -> set[str]:
    """The variables opsbinder reads for itself, whatever the binder says."""
    from opsbinder.notify.apprise_channel import SMTP_ENV

    settings = get_settings()
    names = {SMTP_ENV, "OPSBINDER_DATABASE_URL", "OPSBINDER_WEB_SECRET", settings.audit_key_env}
    names |= {n for n in (settings.audit_webhook_url_env, settings.audit_webhook_secret_env) if n}
    return names


def store_names(session: Session) -> frozenset[str]:
    """What every binder loaded into the store names; re-read only when a binder changed."""
    stamp = tuple(
        session.execute(select(func.count(), func.max(model.updated_at)).select_from(model)).one()
        for model in (Client, Procedure)
    )
    key = (str(session.get_bind().engine.url), *stamp)
    if key not in _CACHE:
        names: set[str] = set()
        for model in (Client, Procedure):
            for definition in session.execute(select(model.definition)).scalars():
                names |= names_in(definition)
        _CACHE.clear()
        _CACHE[key] = frozenset(names)
    return _CACHE[key]


def for_session(session: Session, *extra: Iterable[str]) -> Redactor:
    """The redactor for this session: the store's binders, opsbinder's own variables, and
    any names the caller adds (a route it is sending on). The names are looked up once per
    session; the values are read from the environment each time."""
    names = session.info.get(_INFO)
    if names is None:
        with session.no_autoflush:  # the caller may hold a half-filled row: not ours to flush
            names = session.info[_INFO] = frozenset(store_names(session) | own_names())
    return Redactor(set(names).union(*extra))


def redact(session: Session, text: str) -> str:
    return for_session(session)(text)
