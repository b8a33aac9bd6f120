"""A wall-clock time a person typed, read in a time zone: the one parser every door uses.

People write local times ("the next update at 14:30", "who is on call at 02:30"), and twice a
year a local time is not one instant. The rule, decided once here and said in the note so nobody
is misled:

- a time skipped by a spring-forward change is read with the offset before the change (PEP 495,
  fold=0): "02:30" on that night is 03:30 summer time, the instant 02:30 would have been;
- a time that occurs twice on a fall-back night is the earlier one, unless `fold="later"`.

A time written with an offset ("2026-03-29T02:30+01:00") is that instant, whatever the zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from opsbinder.errors import BadInput

FOLDS = ("earlier", "later")


@dataclass(frozen=True)
class LocalTime:
    instant: datetime  # aware, UTC
    note: str | None  # set when the time was skipped or repeated by a clock change


def parse_local(
    text: str, zone_name: str, *, field: str = "time", fold: str | None = None
) -> LocalTime:
    """`text` (ISO date, or date and time) meant in `zone_name`; `field` names it in errors."""
    if fold not in (None, *FOLDS):
        raise BadInput(f"{field}: fold {fold!r} is not one of {', '.join(FOLDS)}")
    try:
        naive = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(
            f"{field}: {text[:60]!r} is not a date and time; write YYYY-MM-DD HH:MM "
            f"(local time of {zone_name})"
        ) from None
    if naive.tzinfo is not None:
        return LocalTime(naive.astimezone(UTC), None)
    zone = ZoneInfo(zone_name)
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        shown = first.astimezone(UTC).astimezone(zone)
        return LocalTime(
            first.astimezone(UTC),
            f"{naive:%Y-%m-%d %H:%M} does not exist in {zone_name} (the clocks jump forward "
            f"that night); read as {shown:%H:%M %Z} ({first.astimezone(UTC):%H:%M} UTC), "
            f"the same instant as {naive:%H:%M} at the old offset",
        )
    if first.utcoffset() != second.utcoffset():
        chosen, other = (second, first) if fold == "later" else (first, second)
        return LocalTime(
            chosen.astimezone(UTC),
            f"{naive:%Y-%m-%d %H:%M} occurs twice in {zone_name} (the clocks go back); "
            f"read as the {fold or 'earlier'} one ({chosen.astimezone(UTC):%H:%M} UTC); "
            f"the other is {other.astimezone(UTC):%H:%M} UTC",
        )
    return LocalTime(first.astimezone(UTC), None)
