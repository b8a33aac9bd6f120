"""An update's fragment is rendered once per content and zone; an edited update afresh."""

from __future__ import annotations

from collections import namedtuple

from jinja2 import Environment
from markupsafe import Markup

from opsbinder.web.update_fragments import update_once

Update = namedtuple("Update", "incident_id seq current_status")


def test_it_renders_an_update_once_and_an_edited_one_again() -> None:
    calls: list[str] = []

    def macro(u: Update, zone: str) -> Markup:
        calls.append(u.current_status)
        return Markup(f"<p>{u.current_status} ({zone})</p>")

    env = Environment(autoescape=True)
    env.globals["update_once"] = update_once
    env.globals["macro"] = macro
    page = env.from_string("{% for u in ups %}{{ update_once(macro, u, zone) }}{% endfor %}")
    ups = [Update(7, n, f"status {n}") for n in range(1, 4)]
    assert page.render(ups=ups, zone="Europe/Berlin").count("<p>") == 3
    assert page.render(ups=ups, zone="Europe/Berlin").count("<p>") == 3
    assert calls == ["status 1", "status 2", "status 3"]  # the second page rendered none
    edited = [*ups[:2], ups[2]._replace(current_status="all fine")]
    assert "all fine (UTC)" in page.render(ups=edited, zone="UTC")
    assert "all fine (Europe/Berlin)" in page.render(ups=edited, zone="Europe/Berlin")
    assert calls[3:] == ["status 1", "status 2", "all fine", "all fine"]
