"""The status page's "As of" line, written by the server when it sends a kept page.

A kept page is rendered when its data changes and when time alone changes it, not every minute,
so the time it was rendered says little: a quiet page rendered at 09:00 is still exactly right at
15:00. What is true is "as of now" while the kept page is current: every change made through
opsbinder marks the page due in its own transaction, and the page's `changes_at` (when time
alone next changes it) has not come. So the server writes the time it sends such a page; a page
that is due (a writer's render or the sweep's still to come) keeps its render's own time, which
is when its content was last true. No JavaScript: the line is in the HTML as sent.

The template marks the line with `MARK` and the client's zone; the page is split there once per
kept version and the line rebuilt once per minute shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from opsbinder.web.zones import time_element

MARK = b'<span class="as-of" data-zone="'
END = b"</span>"


@dataclass(frozen=True)
class Parts:
    """A page cut around its "As of" time: `head`, the time, `tail`."""

    head: bytes
    zone: ZoneInfo
    tail: bytes


def split(page: bytes) -> Parts | None:
    """The page around its "As of" time; None when it has none (not a status page)."""
    start = page.find(MARK)
    if start < 0:
        return None
    zone_end = page.find(b'"', start + len(MARK))
    inner = page.find(b">", zone_end) + 1
    end = page.find(END, inner)
    if zone_end < 0 or inner <= 0 or end < 0:
        return None
    try:
        zone = ZoneInfo(page[start + len(MARK) : zone_end].decode())
    except (ValueError, KeyError, UnicodeDecodeError):
        return None
    return Parts(page[:inner], zone, page[end:])


def stamped(parts: Parts, now: datetime) -> bytes:
    """The page as of `now`, in the page's own format and the client's zone."""
    return b"".join((parts.head, str(time_element(now, parts.zone)).encode(), parts.tail))
