"""The transition section is checked like every other: file, line, field and value, all at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsbinder.config.loader import load_binder
from tests.config.binders import Defect, broken_copy
from tests.support.console import opsbinder

FIELD_DEFECTS = [
    Defect(
        "transition.yaml",
        "pager_moves: 2026-05-04",
        "pager_moves: 2026-02-30",
        "transition.pager_moves",
        "'2026-02-30'",
        "pager_moves: 2026-02-30",
        "2026-02-30 is not a date: February 2026 has 28 days",
    ),
    Defect(
        "transition.yaml",
        'confirmed_by: "a test page reaches',
        'confirmd_by: "a test page reaches',
        "transition.credentials[1].confirmd_by",
        '"a test page reaches Elbkai\'s pager"',
        "confirmd_by:",
        "unknown field 'confirmd_by'; did you mean 'confirmed_by'? "
        "(allowed here: variable, handed_by, confirmed_by)",
    ),
    Defect(
        "transition.yaml",
        "{variable: OPSBINDER_PAGER_WEBHOOK_SECRET,",
        '{variable: "postgresql://tms:hunter2@db.example/tms",',
        "transition.credentials[2].variable",
        "<hidden>",
        "hunter2",
        "a URL with a password in it; put the URL in an environment variable and name that "
        "variable instead (e.g. url_env: TMS_DB_URL)",
    ),
]
# a section with a field problem is not checked across sections, as with any other: the
# names it uses are checked in the next run, all of them together
REFERENCE_DEFECTS = [
    Defect(
        "transition.yaml",
        "{contact: tom-berger,",
        "{contact: tom-bergr,",
        "transition.outgoing[1].contact",
        "'tom-bergr'",
        "{contact: tom-bergr,",
        "no contact with this id; did you mean 'tom-berger'?",
    ),
    Defect(
        "transition.yaml",
        "{variable: NORDHAFEN_TMS_DB_URL, handed_by: priya-nair,",
        "{variable: NORDHAFEN_TMS_DB_URL, handed_by: somebody-else,",
        "transition.credentials[0].handed_by",
        "'somebody-else'",
        "handed_by: somebody-else",
        "no contact with this id (known: ayse-demir, claudia-roth, dirk-hansen, jonas-weber, "
        "lena-fischer, mark-olsen, priya-nair, sabine-kurz, ...)",
    ),
]


def test_it_reads_the_example_transition(example_dir: Path) -> None:
    plan = load_binder(example_dir).clients[0].transition
    assert plan is not None and plan.incoming is not None
    assert plan.incoming.name == "Elbkai IT Services GmbH"
    assert str(plan.pager_moves) == "2026-05-04"
    assert [c.variable for c in plan.credentials] == [
        "NORDHAFEN_TMS_DB_URL",
        "OPSBINDER_PAGER_WEBHOOK_URL",
        "OPSBINDER_PAGER_WEBHOOK_SECRET",
    ]


@pytest.mark.parametrize("defects", [FIELD_DEFECTS, REFERENCE_DEFECTS], ids=["fields", "names"])
def test_it_reports_every_transition_defect_in_one_run_of_the_console_script(
    defects: list[Defect], example_dir: Path, tmp_path: Path
) -> None:
    folder = broken_copy(example_dir, tmp_path, *defects)
    ran = opsbinder("validate", str(folder))
    assert ran.code == 2, ran.output
    assert "Traceback" not in ran.output
    assert sorted(ran.problems()) == sorted(d.expected(folder) for d in defects)
    assert "hunter2" not in ran.output  # a secret written where a name belongs is never echoed


def test_it_refuses_a_person_or_a_secret_listed_twice(example_dir: Path, tmp_path: Path) -> None:
    twice = Defect(
        "transition.yaml",
        "{variable: OPSBINDER_PAGER_WEBHOOK_URL,",
        "{variable: NORDHAFEN_TMS_DB_URL,",
        "transition.credentials[1].variable",
        "'NORDHAFEN_TMS_DB_URL'",
        "{variable: NORDHAFEN_TMS_DB_URL, handed_by: mark-olsen",
        "credentials: listed twice",
    )
    folder = broken_copy(example_dir, tmp_path, twice)
    ran = opsbinder("validate", str(folder))
    assert ran.code == 2, ran.output
    assert ran.problems() == [twice.expected(folder)]
