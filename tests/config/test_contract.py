"""The contract section of the binder: each defect named with file, line, field and value.

One run of the installed console script must list every defect of the contract together with
the rest of the binder's, as `opsbinder validate` does for every other section.
"""

from __future__ import annotations

from datetime import date, timedelta

from opsbinder.config.loader import load_binder
from tests.config.binders import Defect, broken_copy
from tests.support.console import opsbinder

FIELD_DEFECTS = [
    Defect("calendar.yaml", 'mon-fri: "08:00-18:00"', 'mon-fri: "08:00-25:00"',
           "contract.service_hours.weekly.mon-fri", "'08:00-25:00'", "mon-fri:",
           '25:00 is not a time of day; write spans as "08:00-18:00" (24:00 ends a day)'),
    Defect("calendar.yaml", 'sat: "08:00-12:00"', 'fry: "08:00-12:00"',
           "contract.service_hours.weekly.fry", "'08:00-12:00'", "fry:",
           "'fry' is not a day; write mon..sun or a range like mon-fri"),
    Defect("calendar.yaml", "sev3: {response: 4h, resolution: 3d}",
           "sev3: {response: 4h, resolution: 3h}", "contract.targets.sev3.resolution", "'3h'",
           "sev3:", "is shorter than the response target"),
    Defect("calendar.yaml", "target: 99.5%", "target: 199%", "contract.on_time[1].target",
           "'199%'", "target: 199%", "must be at most 1"),
    Defect("calendar.yaml", "pre_breach_share: 75%", "pre_breach_share: 100%",
           "contract.pre_breach_share", "'100%'", "pre_breach_share", "must be less than 1.0"),
]  # fmt: skip

REFERENCE_DEFECTS = [
    Defect("calendar.yaml", "procedure: purge-tracking-events", "procedure: purge-tracking-event",
           "contract.on_time[0].procedure", "'purge-tracking-event'", "purge-tracking-event,",
           "no procedure with this id; did you mean 'purge-tracking-events'?"),
    Defect("calendar.yaml", "[dirk-hansen]", "[dirk-hanssen]",
           "contract.evidence_recipients[0]", "'dirk-hanssen'", "evidence_recipients",
           "no contact with this id; did you mean 'dirk-hansen'?"),
]  # fmt: skip


def test_it_lists_every_field_defect_of_the_contract_in_one_run(example_dir, tmp_path):
    folder = broken_copy(example_dir, tmp_path, *FIELD_DEFECTS)
    ran = opsbinder("validate", str(folder))
    assert ran.code == 2, ran.output
    assert sorted(ran.problems()) == sorted(d.expected(folder) for d in FIELD_DEFECTS)
    assert "Traceback" not in ran.output


def test_it_names_procedures_and_contacts_the_contract_does_not_know(example_dir, tmp_path):
    folder = broken_copy(example_dir, tmp_path, *REFERENCE_DEFECTS)
    ran = opsbinder("validate", str(folder))
    assert ran.code == 2, ran.output
    assert sorted(ran.problems()) == sorted(d.expected(folder) for d in REFERENCE_DEFECTS)


def test_it_refuses_a_week_without_service_hours(example_dir, tmp_path):
    empty = Defect("calendar.yaml", 'mon-fri: "08:00-18:00"\n      sat: "08:00-12:00"',
                   "mon-fri: []", "contract.service_hours.weekly", None, "weekly:",
                   "no span in the whole week: no SLA clock would ever run")  # fmt: skip
    folder = broken_copy(example_dir, tmp_path, empty)
    ran = opsbinder("validate", str(folder))
    assert ran.code == 2, ran.output
    assert [p.split(" (value:")[0] for p in ran.problems()] == [empty.expected(folder)]


def test_it_reads_the_example_contract(example_dir):
    contract = load_binder(example_dir).client("nordhafen").contract
    assert contract is not None and contract.service_hours is not None
    week = contract.service_hours.week()
    assert week[0] == ((8 * 60, 18 * 60),) and week[5] == ((8 * 60, 12 * 60),) and week[6] == ()
    assert date(2026, 12, 25) in contract.service_hours.holidays
    sev1 = contract.target("sev1")
    assert sev1 is not None and sev1.counted == "always"
    assert sev1.response == timedelta(minutes=15)
    assert contract.warning_at(timedelta(hours=4)) == timedelta(hours=3)
    assert [t.target for t in contract.on_time] == [0.99, 0.995]


def test_it_takes_24_7_as_always_open(example_dir, tmp_path):
    always = Defect("calendar.yaml", "  service_hours:\n    weekly:\n"
                    '      mon-fri: "08:00-18:00"\n      sat: "08:00-12:00"\n'
                    "    holidays: [2026-12-24, 2026-12-25, 2026-12-26, 2026-12-31, 2027-01-01]\n",
                    '  service_hours: "24/7"\n', "", None, None, "")  # fmt: skip
    folder = broken_copy(example_dir, tmp_path, always)
    contract = load_binder(folder).client("nordhafen").contract
    assert contract is not None and contract.service_hours is None


def test_it_round_trips_through_the_store_form(example_dir):
    """The store keeps the binder as JSON (sync.py) and reads it back (binder_store.py)."""
    from opsbinder.config.models import ClientBinder

    client = load_binder(example_dir).client("nordhafen")
    again = ClientBinder.model_validate(client.model_dump(mode="json", by_alias=True))
    assert again.contract == client.contract
