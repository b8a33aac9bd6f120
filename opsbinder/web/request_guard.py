"""Every request checked before anything else reads it: its size, and that its text is text.

A body over the `max_body_bytes` setting is refused (413) by its Content-Length before a byte
is read, or as soon as the chunks streamed so far pass the limit, so an anonymous sender cannot
make a worker hold a large body; this runs before routing, authentication and the session.

Text that no store can hold is refused (422) wherever it comes: the path, the query, a form
field or a JSON string (value or key). PostgreSQL refuses a NUL character in text and a string
that is not valid UTF-8 (a lone surrogate from a JSON escape, a bad %-escape) cannot even be
sent, so without this each such field was a 500 on PostgreSQL and a stored NUL on SQLite. The
app takes no file uploads, so any other body must be free of NUL bytes too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opsbinder.errors import BadInput
from opsbinder.web.refusals import refusal

# Monitoring intake doors answer a bad body in their tool's own protocol (PagerDuty's 400
# "invalid event", Alertmanager's "invalid payload", a ping's body kept cut and clean), and
# `intake_body` bounds and checks it there; their path, query and size are still checked here.
OWN_BODY_CHECKS = ("/v2/", "/alertmanager", "/ping/")


class BodyTooLarge(BadInput):
    """The body outgrew the limit while it was read; answered 413 before anything is parsed."""


def problem_in_text(value: str) -> str | None:
    """Why `value` cannot be stored as text, or None."""
    if "\x00" in value:
        return "holds a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode text (a lone surrogate)"
    return None


def _pairs(encoded: bytes) -> list[tuple[str, str]]:
    """Name/value pairs of a query string or form body; UnicodeDecodeError for a %-escape that
    is not UTF-8."""
    return parse_qsl(encoded.decode("latin-1"), keep_blank_values=True, errors="strict")


def _in_pairs(where: str, encoded: bytes) -> str | None:
    try:
        pairs = _pairs(encoded)
    except UnicodeDecodeError:
        return f"{where}: a %-escape that is not UTF-8 text"
    for name, value in pairs:
        for text in (name, value):
            problem = problem_in_text(text)
            if problem is not None:
                return f"{where}: field {name[:50]!r} {problem}"
    return None


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield f"{path} key", key
            yield from _strings(item, f"{path}.{key[:50]}")


def _in_body(content_type: str, body: bytes) -> str | None:
    if not body:
        return None
    if content_type.startswith("application/x-www-form-urlencoded"):
        return _in_pairs("form", body)
    try:
        document = json.loads(body)
    except ValueError:  # not JSON (or not UTF-8): what the route makes of it is its own answer
        if b"\x00" in body:
            return "body: holds a NUL byte"
        return None
    for where, text in _strings(document, "body"):
        problem = problem_in_text(text)
        if problem is not None:
            return f"{where} {problem}"
    return None


def _in_target(scope: Scope) -> str | None:
    problem = problem_in_text(scope["path"])
    if problem is not None:
        return f"path {problem}"
    return _in_pairs("query", scope.get("query_string", b""))


class RequestGuard:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.limit = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send, 413, self._too_large())
            return
        try:
            body = await self._read(receive)
        except BodyTooLarge:
            await self._refuse(scope, receive, send, 413, self._too_large())
            return
        content_type = headers.get("content-type", "")
        body_checked = b"" if scope["path"].startswith(OWN_BODY_CHECKS) else body
        try:
            problem = _in_target(scope) or _in_body(content_type, body_checked)
        except RecursionError:
            problem = "body: nested too deeply"
        if problem is not None:
            await self._refuse(scope, receive, send, 422, f"{problem}: refused")
            return
        await self.app(scope, _replay(body, receive), send)

    def _too_large(self) -> str:
        return f"The request body is larger than {self.limit} bytes."

    async def _read(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                raise BodyTooLarge()
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, detail: str) -> None:
        headers = {"Connection": "close"} if status == 413 else None
        await refusal(Request(scope), status, detail, headers)(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, then whatever the server says next (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
