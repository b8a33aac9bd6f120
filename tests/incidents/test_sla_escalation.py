"""Before a breach the next level is paged, saying why; a breach goes on the timeline once.

The engine half is pure (exact instants); the sweeper half runs the minutely escalation step on
the store (SQLite and PostgreSQL) with the example client's contract: sev2 is answered within
30 minutes of Hamburg office hours (mon-fri 08:00-18:00, sat 08:00-12:00), 75% pre-breach.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from opsbinder.clock import FrozenClock
from opsbinder.config.models import Binder, EscalationPolicy
from opsbinder.incidents import escalation, escalator, lifecycle, waits
from opsbinder.incidents.escalation import IncidentSnapshot, decide
from opsbinder.incidents.sla import ServiceCalendar, SlaTerms, clock_states
from opsbinder.store.db import session_scope
from opsbinder.store.models import OutboxMessage
from opsbinder.sync import sync_binder
from tests.support.world import two_client_binder

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = ServiceCalendar(BERLIN, (((8 * 60, 18 * 60),),) * 5 + ((), ()))
POLICY = EscalationPolicy.model_validate(
    {
        "id": "standard",
        "levels": [
            {"name": "L1 on-call", "targets": [{"contact": "lena"}], "ack_timeout": "15m"},
            {"name": "L2 team", "targets": [{"contact": "mark"}], "ack_timeout": "30m"},
            {"name": "L3 engineering", "targets": [{"contact": "priya"}], "ack_timeout": "1h"},
        ],
    }
)
FRIDAY_EVENING = datetime(2026, 11, 27, 18, 0, tzinfo=BERLIN)
LADDER = datetime(2026, 11, 30, 9, 50, tzinfo=UTC)  # paged L1 then; L2 due 10:05, L3 10:35


def _snap(**kw: object) -> IncidentSnapshot:
    terms = SlaTerms(OFFICE, timedelta(hours=4), timedelta(days=3), FRIDAY_EVENING)
    args: dict = dict(
        id=9, severity="sev3", state="triggered", ladder_start=LADDER, epoch=0,
        policy=POLICY.model_dump(mode="json"), step=1, sla=terms,
    )  # fmt: skip
    args.update(kw)
    return IncidentSnapshot(**args)


def _sla(actions: list) -> list:
    return [a for a in actions if "/sla/" in a.key]


def test_it_pages_the_next_level_at_three_quarters_of_the_response_target():
    # Friday 18:00 -> counted from Monday 08:00; 75% of 4h is reached at 11:00 Berlin (10:00 UTC)
    just_before = datetime(2026, 11, 30, 9, 59, tzinfo=UTC)
    assert _sla(decide(_snap(), {}, set(), just_before)) == []
    at = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    [page] = _sla(decide(_snap(), {}, set(), at))
    assert page.kind == "notify" and page.recipient == "mark" and page.level == 2
    assert page.key == "inc/9/e0/sla/response/warn/contact:mark"
    assert page.reason == (
        "SLA at risk: 75% of the response target 4h for sev3 used, breaches at "
        "2026-11-30 11:00 UTC; paging L2 team"
    )
    assert _sla(decide(_snap(), {}, {page.key}, at)) == []  # once


def test_it_records_a_breach_once_and_not_after_an_acknowledgement_in_time():
    late = datetime(2026, 11, 30, 11, 1, tzinfo=UTC)
    breach = [a for a in decide(_snap(step=2), {}, set(), late) if a.kind == "breach"]
    assert [(a.key, a.due_at, a.reason) for a in breach] == [
        (
            "inc/9/e0/sla/response/breach",
            datetime(2026, 11, 30, 11, 0, tzinfo=UTC),
            "SLA breached: response target 4h for sev3 missed at 2026-11-30 11:00 UTC",
        )
    ]
    assert [
        a.recipient for a in _sla(decide(_snap(step=2), {}, set(), late)) if a.kind == "notify"
    ] == ["priya"]
    acked = SlaTerms(OFFICE, timedelta(hours=4), timedelta(days=3), FRIDAY_EVENING,
                     acknowledged_at=datetime(2026, 11, 30, 10, 59, tzinfo=UTC))  # fmt: skip
    assert _sla(decide(_snap(state="acknowledged", sla=acked), {}, set(), late)) == []


def test_it_does_not_page_while_waiting_on_the_client():
    waiting = SlaTerms(OFFICE, timedelta(hours=4), timedelta(days=3), FRIDAY_EVENING,
                       pauses=((datetime(2026, 11, 30, 8, 30, tzinfo=BERLIN), None),))  # fmt: skip
    week_later = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    assert _sla(decide(_snap(sla=waiting), {}, set(), week_later)) == []


def _computing_every_clock(snap: IncidentSnapshot, sent: set[str], now: datetime) -> list:
    """What `decide` returns, with both SLA clocks computed whatever their state (the
    reference for its shortcut, which computes a clock only when it may have something due)."""
    assert snap.sla is not None and isinstance(snap.policy, dict)
    policy = EscalationPolicy.model_validate(snap.policy)
    base = f"inc/{snap.id}/e{snap.epoch}"
    sla = [
        action
        for clock in clock_states(snap.sla, now)
        for action in escalation._sla_actions(snap, policy, {}, sent, now, base, clock)
    ]
    actions = decide(replace(snap, sla=None), {}, sent, now) + sla
    return sorted(actions, key=lambda a: (a.due_at, a.step, a.kind != "escalate", a.key))


def test_it_decides_as_if_it_computed_every_clock():
    """Minute by minute over a week (office hours, a wait, an acknowledgement), with what the
    earlier minutes sent and with nothing sent: the same actions, in the same order."""
    waiting = ((datetime(2026, 12, 1, 9, 0, tzinfo=UTC), datetime(2026, 12, 2, 15, 0, tzinfo=UTC)),)
    acked_at = datetime(2026, 11, 30, 10, 40, tzinfo=UTC)
    cases = [
        _snap(),
        _snap(sla=replace(_snap().sla, pauses=waiting)),
        _snap(state="acknowledged", sla=replace(_snap().sla, acknowledged_at=acked_at)),
        _snap(severity="sev1", step=0, sla=replace(_snap().sla, calendar=ServiceCalendar.always())),
    ]
    compared = 0
    for snap in cases:
        sent: set[str] = set()
        now = FRIDAY_EVENING.astimezone(UTC)
        while now < FRIDAY_EVENING + timedelta(days=7):
            for already in (sent, set()):
                expected = _computing_every_clock(snap, already, now)
                assert decide(snap, {}, already, now) == expected, (snap, now)
                compared += bool(expected)
            sent |= {a.key for a in _computing_every_clock(snap, sent, now)}
            now += timedelta(minutes=13)
    assert compared > 500  # the week holds pages, escalations and breaches, not only quiet


def _open(store: Engine, clock: FrozenClock) -> int:
    with session_scope(store) as s:
        return lifecycle.trigger(
            s, clock, client_id="nordhafen", procedure_key="check-tms-backup",
            dedup_key="nordhafen/check-tms-backup", title="Check last night's TMS backup: Failed",
            severity="sev2", details={"error": "no dump"},
        ).id  # fmt: skip


def test_the_sweep_pages_before_and_records_the_breach_with_its_reason(
    paged: Engine, clock: FrozenClock
) -> None:
    # the clock fixture: Friday 2026-03-20 10:00 UTC (11:00 in Hamburg, inside office hours)
    iid = _open(paged, clock)
    escalator.sweep(paged, clock)
    with session_scope(paged) as s:
        lifecycle.acknowledge(s, clock, iid, actor="lena-fischer")  # the ladder stops, not SLA
    clock.advance(timedelta(hours=6))  # 8h target: 6h (75%) at 17:00 Hamburg = 16:00 UTC
    assert escalator.sweep(paged, clock).enqueued == 1
    with session_scope(paged) as s:
        keys = [m.idempotency_key.split("#")[0] for m in s.execute(select(OutboxMessage)).scalars()]
        assert keys[-1] == f"inc/{iid}/e0/sla/resolution/warn/contact:mark-olsen"
        notes = [e.message for e in lifecycle.events(s, iid) if e.kind == "notified"]
        assert notes[-1].startswith(
            "SLA at risk: 75% of the resolution target 8h for sev2 used, breaches at "
            "2026-03-21 08:00 UTC; paging L2 team lead: notifying Mark Olsen"
        )
    clock.advance(timedelta(days=1))  # 7h on Friday, the 8th at Saturday 09:00 Hamburg
    escalator.sweep(paged, clock)
    escalator.sweep(paged, clock)
    with session_scope(paged) as s:
        breaches = [e for e in lifecycle.events(s, iid) if e.kind == escalator.BREACHED]
        assert [e.message for e in breaches] == [
            "SLA breached: resolution target 8h for sev2 missed at 2026-03-21 08:00 UTC"
        ]


def test_the_sweep_leaves_a_waiting_incident_alone(paged: Engine, clock: FrozenClock) -> None:
    iid = _open(paged, clock)
    escalator.sweep(paged, clock)
    with session_scope(paged) as s:
        lifecycle.acknowledge(s, clock, iid, actor="lena-fischer")
        waits.start_waiting(s, clock, iid, actor="lena-fischer")
    clock.advance(timedelta(days=5))
    escalator.sweep(paged, clock)
    with session_scope(paged) as s:
        kinds = [e.kind for e in lifecycle.events(s, iid)]
        assert escalator.BREACHED not in kinds and kinds.count("notified") == 2
        waits.stop_waiting(s, clock, iid, actor="lena-fischer")
    clock.advance(timedelta(days=3))  # the clock runs again: 8h of office time pass
    escalator.sweep(paged, clock)
    with session_scope(paged) as s:
        assert escalator.BREACHED in [e.kind for e in lifecycle.events(s, iid)]


def test_each_client_counts_in_its_own_service_hours_within_one_pass(
    store: Engine, example_dir: Path
) -> None:
    """A pass lays out each client's service week once per severity and keeps it for that
    client only: a 24/7 client's clock runs on a Friday evening while an office-hours one's
    stands still, in the same pass."""
    nordhafen, lindqvist = two_client_binder(example_dir).clients
    assert nordhafen.contract is not None and lindqvist.contract is not None
    always = lindqvist.model_copy(
        update={
            "client": lindqvist.client.model_copy(update={"timezone": "Europe/Berlin"}),
            "contract": lindqvist.contract.model_copy(update={"service_hours": None}),
        }
    )  # the same zone, the same severity: only the client tells their calendars apart
    clock = FrozenClock(datetime(2026, 3, 20, 17, 5, tzinfo=UTC))  # Friday 18:05 in Berlin
    with session_scope(store) as s:
        sync_binder(s, Binder(clients=[nordhafen, always]), clock)
        opened = [
            lifecycle.trigger(
                s, clock, client_id=client, procedure_key="check-tms-backup",
                dedup_key=f"{client}/check-tms-backup", title="Backup check: Failed",
                severity="sev2", details={"error": "no dump"},
            ).id
            for client in ("nordhafen", "lindqvist")
        ]  # fmt: skip
        for iid in opened:  # the ladder and the response clock stop: only resolution is left
            lifecycle.acknowledge(s, clock, iid, actor="lena-fischer")
    escalator.sweep(store, clock)
    clock.advance(timedelta(hours=8, minutes=1))  # past 8 hours of 24/7; none of office hours
    escalator.sweep(store, clock)
    with session_scope(store) as s:
        breaches = [
            [e.data["key"] for e in lifecycle.events(s, iid) if e.kind == escalator.BREACHED]
            for iid in opened
        ]
    assert breaches == [[], [f"inc/{opened[1]}/e0/sla/resolution/breach"]]
