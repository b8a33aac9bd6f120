"""On-call layers paged one by one (`{oncall: l1, layer: secondary}`), and acknowledgement
timeouts that differ by severity: the pure engine with exact times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opsbinder.config.models import EscalationPolicy, OnCallSchedule
from opsbinder.incidents.escalation import IncidentSnapshot, decide
from opsbinder.oncall import on_call

T0 = datetime(2026, 3, 20, 10, 0, tzinfo=UTC)  # a Friday, 11:00 in Berlin

L1 = OnCallSchedule.model_validate(
    {
        "id": "l1",
        "timezone": "Europe/Berlin",
        "layers": [
            {"name": "primary", "members": ["lena", "tom"], "length": "daily",
             "handoff_time": "09:00", "start": "2026-03-01"},
            {"name": "secondary", "members": ["ayse", "mark"], "length": "weekly",
             "handoff_day": "mon", "handoff_time": "09:00", "start": "2026-03-02"},
        ],
        "overrides": [
            {"contact": "priya", "layer": "secondary", "start": "2026-03-20T12:00:00",
             "end": "2026-03-20T18:00:00"},
            {"contact": "claudia", "start": "2026-03-21T09:00:00", "end": "2026-03-21T10:00:00"},
        ],
    }
)  # fmt: skip
POLICY = EscalationPolicy.model_validate(
    {
        "id": "layered",
        "levels": [
            {"name": "primary", "targets": [{"oncall": "l1", "layer": "primary"}],
             "ack_timeout": {"sev1": "5m", "default": "15m"}},
            {"name": "secondary", "targets": [{"oncall": "l1", "layer": "secondary"}],
             "ack_timeout": "30m"},
        ],
    }
)  # fmt: skip


def test_it_finds_who_is_on_in_each_layer_with_that_layers_overrides() -> None:
    # primary: daily from 1 March, 19 hand-offs by 20 March 11:00: tom
    assert on_call(L1, T0, "primary") == "tom"
    assert on_call(L1, T0, "secondary") == "ayse"  # the third week: ayse again
    assert on_call(L1, T0) == "ayse"  # the last layer wins where both are on
    at_noon = datetime(2026, 3, 20, 11, 30, tzinfo=UTC)  # 12:30 Berlin: priya stands in
    assert (on_call(L1, at_noon, "secondary"), on_call(L1, at_noon, "primary")) == ("priya", "tom")
    saturday = datetime(2026, 3, 21, 8, 30, tzinfo=UTC)  # an override of the whole schedule
    assert on_call(L1, saturday) == "claudia"
    assert on_call(L1, saturday, "primary") == "lena"  # ...is not one of a layer
    assert on_call(L1, T0, "tertiary") is None


def _snap(severity: str) -> IncidentSnapshot:
    return IncidentSnapshot(id=9, severity=severity, state="triggered", ladder_start=T0,
                            epoch=0, policy=POLICY.model_dump(mode="json"))  # fmt: skip


@pytest.mark.parametrize(("severity", "wait"), [("sev1", 5), ("sev2", 15), ("sev3", 15)])
def test_it_pages_the_secondary_layer_after_the_severitys_timeout(severity: str, wait: int) -> None:
    first = decide(_snap(severity), {"l1": L1}, set(), T0)
    assert [(a.target, a.recipient) for a in first] == [
        ({"oncall": "l1", "layer": "primary"}, "tom")
    ]
    sent = {a.key for a in first}
    before = T0 + timedelta(minutes=wait) - timedelta(seconds=1)
    assert decide(_snap(severity), {"l1": L1}, sent, before) == []
    due = decide(_snap(severity), {"l1": L1}, sent, T0 + timedelta(minutes=wait))
    assert [(a.kind, a.recipient, a.reason) for a in due] == [
        ("escalate", None, f"not acknowledged within {wait}m"),
        ("notify", "ayse", "secondary"),
    ]
    assert due[1].key == "inc/9/e0/r0/l2/oncall:l1/secondary"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (
            {"contact": "mark", "layer": "secondary"},
            "a layer belongs to an on-call schedule: add oncall",
        )
    ],
)
def test_it_refuses_a_layer_without_a_schedule(target: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        EscalationPolicy.model_validate(
            {"id": "p", "levels": [{"name": "x", "targets": [target], "ack_timeout": "5m"}]}
        )
    assert [e["msg"] for e in caught.value.errors()] == [message]  # type: ignore[attr-defined]


def test_it_refuses_per_severity_timeouts_that_leave_a_severity_out() -> None:
    with pytest.raises(ValueError) as caught:
        EscalationPolicy.model_validate({"id": "p", "levels": [
            {"name": "x", "targets": [{"contact": "a"}], "ack_timeout": {"sev1": "5m", "sev2": "10m"}}
        ]})  # fmt: skip
    assert [e["msg"] for e in caught.value.errors()] == ["missing: a default for sev3, sev4"]  # type: ignore[attr-defined]
