from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from opsbinder.config.models import EscalationPolicy, OnCallSchedule, Rotation
from opsbinder.incidents.escalation import IncidentSnapshot, decide

T0 = datetime(2026, 3, 20, 10, 0, tzinfo=UTC)  # a Friday, 11:00 in Berlin

POLICY = EscalationPolicy(
    id="standard",
    levels=[
        {
            "name": "L1 on-call",
            "targets": [{"oncall": "l1"}, {"webhook": "pager"}],
            "ack_timeout": "15m",
        },
        {"name": "L2 team", "targets": [{"contact": "mark"}], "ack_timeout": "30m"},
        {"name": "L3 engineering", "targets": [{"contact": "priya"}], "ack_timeout": "1h"},
    ],
    repeat=1,
    sev1_management=[{"contact": "claudia"}],
    sev1_management_interval="1h",
)
SCHEDULES = {
    "l1": OnCallSchedule(
        id="l1",
        timezone="Europe/Berlin",
        layers=[
            Rotation(
                members=["lena", "tom"],
                length="daily",
                handoff_time=time(11, 20),
                start=date(2026, 3, 1),
            )
        ],
    )
}


def _snap(**kw: object) -> IncidentSnapshot:
    args: dict = dict(
        id=7,
        severity="sev2",
        state="triggered",
        ladder_start=T0,
        epoch=0,
        policy=POLICY.model_dump(mode="json"),
        step=0,
    )
    args.update(kw)
    return IncidentSnapshot(**args)


def _keys(actions: list) -> list[str]:
    return [a.key for a in actions]


def _apply(
    snapshot: IncidentSnapshot, sent: set[str], now: datetime
) -> tuple[IncidentSnapshot, list]:
    actions = decide(snapshot, SCHEDULES, sent, now)
    sent |= {a.key for a in actions if a.kind == "notify"}
    step = max([snapshot.step, *[a.step for a in actions]])
    return _snap(**{**snapshot.__dict__, "step": step}), actions


def test_it_pages_level_one_at_once_with_whoever_is_on_call() -> None:
    actions = decide(_snap(), SCHEDULES, set(), T0)
    assert [(a.kind, a.target, a.recipient) for a in actions] == [
        ("notify", {"oncall": "l1"}, "lena"),  # 11:00 Berlin, before the 11:20 hand-off
        ("notify", {"webhook": "pager"}, None),
    ]
    assert _keys(actions) == ["inc/7/e0/r0/l1/oncall:l1", "inc/7/e0/r0/l1/webhook:pager"]


def test_it_escalates_to_level_two_exactly_at_the_ack_timeout() -> None:
    snap, sent = _snap(), set()
    snap, _ = _apply(snap, sent, T0)
    assert decide(snap, SCHEDULES, sent, T0 + timedelta(minutes=14, seconds=59)) == []
    snap, actions = _apply(snap, sent, T0 + timedelta(minutes=15))
    assert [(a.kind, a.level, a.recipient) for a in actions] == [
        ("escalate", 2, None),
        ("notify", 2, "mark"),
    ]
    assert actions[0].reason == "not acknowledged within 15m"
    # nothing more until L3 is due at +45m
    assert decide(snap, SCHEDULES, sent, T0 + timedelta(minutes=44)) == []
    _, actions = _apply(snap, sent, T0 + timedelta(minutes=45))
    assert [(a.kind, a.level) for a in actions] == [("escalate", 3), ("notify", 3)]


def test_it_repeats_the_ladder_and_then_stops() -> None:
    snap, sent = _snap(), set()
    seen = []
    now = T0
    while now <= T0 + timedelta(hours=6):
        snap, actions = _apply(snap, sent, now)
        seen += [(a.key, a.due_at - T0) for a in actions if a.kind == "notify"]
        now += timedelta(minutes=1)
    assert seen == [
        ("inc/7/e0/r0/l1/oncall:l1", timedelta(0)),
        ("inc/7/e0/r0/l1/webhook:pager", timedelta(0)),
        ("inc/7/e0/r0/l2/contact:mark", timedelta(minutes=15)),
        ("inc/7/e0/r0/l3/contact:priya", timedelta(minutes=45)),
        ("inc/7/e0/r1/l1/oncall:l1", timedelta(minutes=105)),
        ("inc/7/e0/r1/l1/webhook:pager", timedelta(minutes=105)),
        ("inc/7/e0/r1/l2/contact:mark", timedelta(minutes=120)),
        ("inc/7/e0/r1/l3/contact:priya", timedelta(minutes=150)),
    ]


def test_it_pages_the_person_on_call_when_the_step_became_due() -> None:
    snap, sent = _snap(), set()
    snap, _ = _apply(snap, sent, T0)
    # the second pass of L1 is due at 11:45 Berlin, after the 11:20 hand-off
    actions = decide(snap, SCHEDULES, sent, T0 + timedelta(minutes=105))
    l1 = [a for a in actions if a.target == {"oncall": "l1"}]
    assert l1[-1].recipient == "tom"


def test_it_stops_the_ladder_once_acknowledged() -> None:
    snap, sent = _snap(), set()
    snap, _ = _apply(snap, sent, T0)
    acked = _snap(**{**snap.__dict__, "state": "acknowledged"})
    assert decide(acked, SCHEDULES, sent, T0 + timedelta(hours=3)) == []
    resolved = _snap(**{**snap.__dict__, "state": "resolved"})
    assert decide(resolved, SCHEDULES, sent, T0 + timedelta(hours=3)) == []


def test_it_informs_management_at_once_and_hourly_for_severity_one() -> None:
    snap, sent = _snap(severity="sev1"), set()
    snap, actions = _apply(snap, sent, T0)
    assert [a.key for a in actions if a.level == 0] == ["inc/7/e0/sev1/t0/contact:claudia"]
    snap = _snap(**{**snap.__dict__, "state": "acknowledged"})  # acknowledged: still informed
    assert decide(snap, SCHEDULES, sent, T0 + timedelta(minutes=59)) == []
    _, actions = _apply(snap, sent, T0 + timedelta(hours=1))
    assert [(a.key, a.reason) for a in actions] == [
        ("inc/7/e0/sev1/t1/contact:claudia", "Severity-1: management informed (reminder 1)")
    ]
    # a sweeper that was away for 3 hours sends the latest reminder only
    _, actions = _apply(snap, sent, T0 + timedelta(hours=4, minutes=10))
    assert _keys(actions) == ["inc/7/e0/sev1/t4/contact:claudia"]


def test_it_starts_a_new_ladder_after_a_reopen() -> None:
    sent = {"inc/7/e0/r0/l1/oncall:l1", "inc/7/e0/r0/l1/webhook:pager"}
    reopened = _snap(epoch=1, ladder_start=T0 + timedelta(hours=2))
    actions = decide(reopened, SCHEDULES, sent, T0 + timedelta(hours=2))
    assert _keys(actions) == ["inc/7/e1/r0/l1/oncall:l1", "inc/7/e1/r0/l1/webhook:pager"]
    assert decide(reopened, SCHEDULES, sent, T0 + timedelta(hours=1)) == []


def test_it_names_no_recipient_for_an_on_call_gap() -> None:
    schedules = {
        "l1": OnCallSchedule(
            id="l1",
            timezone="Europe/Berlin",
            layers=[
                Rotation(
                    members=["lena"],
                    length="daily",
                    start=date(2026, 3, 1),
                    restrict_from=time(18),
                    restrict_to=time(8),
                )
            ],
        )
    }
    actions = decide(_snap(), schedules, set(), T0)
    assert actions[0].target == {"oncall": "l1"} and actions[0].recipient is None
