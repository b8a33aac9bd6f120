"""Each status update's HTML on the client status page, rendered once per content and zone.

An update is append-only and its fragment depends on nothing but its stored fields and the zone
it is shown in, so a page of a thousand updates, rendered again when one more arrives, renders
the one new fragment and reuses the others. The key is every stored field: an update edited
behind opsbinder's back misses it and is rendered as it now reads (and the chain check says so).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

KEPT_MOST = 20_000  # fragments remembered; past this it starts over
_kept: dict[tuple[Any, ...], Markup] = {}


@pass_context
def update_once(
    context: Context, macro: Callable[[Any, Any], Markup], update: Any, zone: Any
) -> Markup:
    """`macro(update, zone)`, remembered by the update's stored fields, the zone and the
    viewer's zone choice (which `when` reads from the context)."""
    key = (*tuple(update), str(zone), repr(context.get("zone_choice")))
    found = _kept.get(key)
    if found is None:
        found = Markup(macro(update, zone))
        if len(_kept) >= KEPT_MOST:
            _kept.clear()
        _kept[key] = found
    return found
