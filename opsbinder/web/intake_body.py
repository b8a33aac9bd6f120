"""A monitoring tool's request body, read with bounds before anything trusts it.

Shared by the PagerDuty, Alertmanager and ping doors: at most `limit` bytes are read (the rest
is never buffered), and JSON is parsed with its nesting bounded, so a hostile payload costs a
refusal, never memory or a crash.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from opsbinder.errors import BadInput

MAX_DEPTH = 32


@dataclass(frozen=True)
class Body:
    data: bytes
    truncated: bool  # more was sent than `limit`


async def read_body(request: Request, limit: int) -> Body:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        room = limit - size
        if len(chunk) > room:
            chunks.append(chunk[:room])
            return Body(b"".join(chunks), True)
        chunks.append(chunk)
        size += len(chunk)
    return Body(b"".join(chunks), False)


class BadJson(BadInput):
    """The body is not the JSON it should be; the message says why, for the tool's log."""


def parse_json(data: bytes) -> Any:
    if b"\x00" in data or b"\\u0000" in data:
        raise BadJson("the body contains a NUL character")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadJson("the body is not UTF-8") from exc
    if _depth(text) > MAX_DEPTH:
        raise BadJson(f"the JSON is nested deeper than {MAX_DEPTH} levels")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise BadJson(f"malformed JSON: {str(exc)[:100]}") from exc
    try:  # a lone surrogate (\ud800) parses, but no store can hold it
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadJson("the JSON holds a lone surrogate, which is not text") from exc
    return value


def _depth(text: str) -> int:
    """The deepest bracket nesting, strings skipped: checked before `json` recurses."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def trimmed(value: Any, limit: int = 8000) -> Any:
    """A tool's free-form details, kept whole when small, as a cut text when not."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    if len(text) <= limit:
        return value
    return text[:limit] + " …(cut)"
