"""The zone a person reads the console's times in, and the one helper that writes a time.

Every time on a page goes through `when` (HTML) or `local_time` (plain text, e.g. the Atom
feed): shown in a zone, always labelled ("14:05 CET"), with the exact instant and its offset in
the `<time>` element's title, so nobody has to guess whether a bare "14:05" was UTC.

Which zone: the viewer's choice, remembered in a cookie (a year) — each client's own zone (the
default: what the client's people and the status page say), UTC, or the viewer's own zone (the
browser names it on the zone page; without JavaScript the viewer picks it from the list).
The status page always uses the client's zone: it is the client's page, and cached for everyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from opsbinder.clock import utc

COOKIE = "opsbinder_zone"
COOKIE_MAX_AGE = 365 * 24 * 3600
FULL = "%a %d %b %Y, %H:%M"


@cache
def zone_names() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


@dataclass(frozen=True)
class ZoneChoice:
    kind: str  # "client", "utc" or "own"
    own: str = ""  # the viewer's IANA zone when kind == "own"

    def zone(self, client_zone: str | ZoneInfo | None) -> ZoneInfo:
        if self.kind == "utc":
            return ZoneInfo("UTC")
        if self.kind == "own" and self.own:
            return ZoneInfo(self.own)
        if isinstance(client_zone, ZoneInfo):
            return client_zone
        return ZoneInfo(client_zone or "UTC")

    @property
    def cookie(self) -> str:
        return f"own:{self.own}" if self.kind == "own" else self.kind

    @property
    def label(self) -> str:
        if self.kind == "utc":
            return "UTC"
        if self.kind == "own":
            return f"your zone ({self.own})"
        return "each client's zone"


CLIENT = ZoneChoice("client")


def choice_of(value: str | None) -> ZoneChoice:
    """The remembered choice; anything unreadable is the default, never an error page."""
    if value == "utc":
        return ZoneChoice("utc")
    if value and value.startswith("own:") and value[4:] in zone_names():
        return ZoneChoice("own", value[4:])
    return CLIENT


def label(moment: datetime) -> str:
    """The zone's abbreviation ("CET"), or "UTC+04" where the zone has none."""
    name = moment.strftime("%Z")
    return f"UTC{name}" if name[:1] in "+-" else name


def local_time(
    value: datetime | None, tz: str | ZoneInfo | None = "UTC", fmt: str = FULL + " %Z"
) -> str:
    """Plain text, for places that cannot hold markup; `%Z` in `fmt` is the label."""
    if value is None:
        return "—"
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz or "UTC")
    moment = utc(value).astimezone(zone)
    return moment.strftime(fmt.replace("%Z", label(moment)))


def time_element(value: datetime | None, zone: ZoneInfo, fmt: str = FULL) -> Markup:
    if value is None:
        return Markup("—")
    moment = utc(value).astimezone(zone)
    iso = moment.isoformat(timespec="minutes")
    shown = escape(f"{moment.strftime(fmt)} {label(moment)}")
    iso = escape(iso)  # both escaped, then joined directly: Markup.format costs a page of a
    # thousand updates a third of its render
    return Markup(f'<time datetime="{iso}" title="{iso}">{shown}</time>')


@pass_context
def when(
    context: Context, value: datetime | None, client_zone: Any = None, fmt: str = FULL
) -> Markup:
    """A time in the viewer's chosen zone (`zone_choice` in the page's context), labelled."""
    choice = context.get("zone_choice") or CLIENT
    return time_element(value, choice.zone(client_zone), fmt)


@pass_context
def when_text(
    context: Context, value: datetime | None, client_zone: Any = None, fmt: str = FULL
) -> str:
    """`when` as plain text, for places that hold no markup (an SVG title, an aria label)."""
    choice = context.get("zone_choice") or CLIENT
    return local_time(value, choice.zone(client_zone), fmt + " %Z")
