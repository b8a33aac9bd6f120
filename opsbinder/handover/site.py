"""The binder as pages: a static HTML site and one Markdown file, from the same templates' data.

Pages link only to each other by relative paths and use one local stylesheet, so the folder opens
offline from a USB stick or an e-mail attachment, and prints cleanly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import jinja2

from opsbinder import housekeeping
from opsbinder.clock import utc
from opsbinder.config.models.escalation import PerSeverity
from opsbinder.handover.binder_yaml import dump
from opsbinder.handover.calendar_view import CalendarView
from opsbinder.handover.completeness import Completeness
from opsbinder.handover.day_one import DayOne
from opsbinder.handover.dossier import Dossier
from opsbinder.handover.oncall_view import Segment
from opsbinder.handover.secret_names import env_names
from opsbinder.handover.words import duration_in_words

PAGES = (
    "index.html",
    "procedures.html",
    "systems.html",
    "escalation.html",
    "oncall.html",
    "incidents.html",
    "calendar.html",
    "history.html",
    "transition.html",
    "completeness.html",
    "audit-log.html",
)
__all__ = ["PAGES", "css", "env_names", "render"]


def _environment(tz: ZoneInfo, names: dict[str, str]) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("opsbinder.handover", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
        keep_trailing_newline=True,
    )

    def when(value: datetime | None) -> str:
        if value is None:
            return "—"
        return utc(value).astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")

    def words(value: timedelta | PerSeverity | None) -> str:
        return duration_in_words(value)

    def host(value: str) -> str:
        parts = urlsplit(value)
        return f"{parts.scheme}://{parts.hostname}" if parts.hostname else parts.scheme + "://…"

    env.filters.update(when=when, words=words, host=host, name_of=lambda i: names.get(i, i))
    return env


def render(
    dossier: Dossier,
    completeness: Completeness,
    *,
    day: DayOne,
    cal: CalendarView,
    shifts: dict[str, list[Segment] | None],
    shift_error: str,
    folder_hint: str,
    write: Callable[[Path, str], None],
    out: Path,
) -> list[Path]:
    """Render every page and the Markdown file through `write` (which redacts); return paths."""
    tz = ZoneInfo(dossier.binder.client.timezone)
    names = {c.id: c.name for c in dossier.binder.contacts}
    env = _environment(tz, names)
    common = {
        "d": dossier,
        "c": completeness,
        "day": day,
        "cal": cal,
        "tz": dossier.binder.client.timezone,
        "names": names,
        "shifts": shifts,
        "shift_error": shift_error,
        "env_names": env_names(dossier.binder),
        "folder_hint": folder_hint,
        "proc_keys": {p.row.id: p.config.id for p in dossier.procedures},
        "housekeeping": housekeeping.duty(),
        "score_class": "ok"
        if completeness.score >= 90
        else "warn"
        if completeness.score >= 60
        else "bad",
    }
    titles = {
        "index.html": f"Handover binder — {dossier.client.name}",
        "procedures.html": "Procedures",
        "systems.html": "Systems",
        "escalation.html": "Escalation matrix",
        "oncall.html": "On-call rotation and contacts",
        "incidents.html": "Open incidents",
        "calendar.html": "Calendar: maintenance windows and holidays",
        "history.html": "Run history, last 12 months",
        "transition.html": "Transition plan",
        "completeness.html": "Completeness audit",
        "audit-log.html": "Audit log",
    }
    written: list[Path] = []
    for page in PAGES:
        html = env.get_template(page).render(**common, root="", title=titles[page])
        write(out / page, html)
        written.append(out / page)
    for facts in dossier.procedures:
        params = dump(
            facts.config.params.model_dump(mode="python", by_alias=True, exclude_none=True)
        ).strip()
        html = env.get_template("procedure.html").render(
            **common, root="../", title=facts.config.name, p=facts, params=params
        )
        write(out / facts.page, html)
        written.append(out / facts.page)
    write(out / "binder.md", env.get_template("binder.md").render(**common, root=""))
    written.append(out / "binder.md")
    return written


def css() -> str:
    return (Path(__file__).parent / "templates" / "binder.css").read_text(encoding="utf-8")
