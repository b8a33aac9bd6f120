"""`opsbinder binder diff OLD NEW` on constructed pairs of exports, through the installed script."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from opsbinder.handover.export import MARKER
from tests.support.console import Ran, opsbinder


def export_of(example_dir: Path, folder: Path, *edits: tuple[str, str, str]) -> Path:
    """An export folder as `binder export` lays it out, its binder changed by (file, old, new)."""
    shutil.copytree(example_dir, folder / "binder")
    (folder / MARKER).write_text('{"client": "nordhafen"}\n', encoding="utf-8")
    for file, old, new in edits:
        path = folder / "binder" / file
        text = path.read_text(encoding="utf-8")
        assert old in text, f"the example changed: {old!r} not in {file}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder


def diff(old: Path, new: Path, *more: str) -> Ran:
    ran = opsbinder("binder", "diff", str(old), str(new), *more)
    assert "Traceback" not in ran.output, ran.output
    return ran


# one difference of each kind: (file, old text, new text), the readable lines it must produce
# and the JSON entry
KINDS = {
    "procedure": (
        ("procedures.yaml", "owner: lena-fischer", "owner: tom-berger"),
        ["procedure purge-tracking-events: changed", "    owner: 'lena-fischer' -> 'tom-berger'"],
        {"kind": "procedure", "item": "purge-tracking-events", "change": "changed",
         "fields": [{"field": "owner", "old": "lena-fischer", "new": "tom-berger"}]},
    ),
    "schedule": (
        ("procedures.yaml", 'cron: "15 1 * * *"', 'cron: "45 2 * * *"'),
        ["schedule purge-tracking-events: changed", "    schedule.cron: '15 1 * * *' -> '45 2 * * *'"],
        {"kind": "schedule", "item": "purge-tracking-events", "change": "changed",
         "fields": [{"field": "schedule.cron", "old": "15 1 * * *", "new": "45 2 * * *"}]},
    ),
    "policy": (
        ("escalation.yaml", "ack_timeout: 15m", "ack_timeout: 20m"),
        ["policy standard: changed", "    levels[0].ack_timeout: '15m' -> '20m'"],
        {"kind": "policy", "item": "standard", "change": "changed",
         "fields": [{"field": "levels[0].ack_timeout", "old": "15m", "new": "20m"}]},
    ),
    "rotation": (
        ("oncall.yaml", "members: [lena-fischer, tom-berger, ayse-demir]",
         "members: [lena-fischer, ayse-demir]"),
        ["rotation l1-weekly: changed",
         "    layers[0].members: ['lena-fischer', 'tom-berger', 'ayse-demir'] -> ['lena-fischer', 'ayse-demir']"],
        {"kind": "rotation", "item": "l1-weekly", "change": "changed",
         "fields": [{"field": "layers[0].members", "old": ["lena-fischer", "tom-berger", "ayse-demir"],
                     "new": ["lena-fischer", "ayse-demir"]}]},
    ),
    "contact": (
        ("client.yaml", 'phone: "+49 40 5550 2001"', 'phone: "+49 40 5550 2999"'),
        ["contact mark-olsen: changed", "    phone: '+49 40 5550 2001' -> '+49 40 5550 2999'"],
        {"kind": "contact", "item": "mark-olsen", "change": "changed",
         "fields": [{"field": "phone", "old": "+49 40 5550 2001", "new": "+49 40 5550 2999"}]},
    ),
}  # fmt: skip


def test_it_exits_0_and_says_so_when_two_exports_are_the_same(
    example_dir: Path, tmp_path: Path
) -> None:
    old, new = export_of(example_dir, tmp_path / "a"), export_of(example_dir, tmp_path / "b")
    ran = diff(old, new)
    assert (ran.code, ran.out.strip()) == (0, "no changes"), ran.output
    ran = diff(old, new, "--json")
    assert (ran.code, json.loads(ran.out)) == (0, [])


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_it_names_one_difference_of_each_kind_readably_and_as_json(
    kind: str, example_dir: Path, tmp_path: Path
) -> None:
    edit, readable, entry = KINDS[kind]
    old = export_of(example_dir, tmp_path / "old")
    new = export_of(example_dir, tmp_path / "new", edit)
    ran = diff(old, new)
    assert ran.code == 1, ran.output
    assert ran.out.splitlines() == [*readable, f"1 change(s) between {old} and {new}"]
    ran = diff(old, new, "--json")
    assert ran.code == 1, ran.output
    assert json.loads(ran.out) == [entry]


def test_it_names_added_and_removed_items(example_dir: Path, tmp_path: Path) -> None:
    newcomer = (
        "client.yaml",
        "  # client side\n",
        "  - {id: ole-brandt, name: Ole Brandt, role: L1 engineer, email: ole@msp.example}\n"
        "  # client side\n",
    )
    plain = export_of(example_dir, tmp_path / "plain")
    more = export_of(example_dir, tmp_path / "more", newcomer)
    ran = diff(plain, more, "--json")
    assert (ran.code, json.loads(ran.out)) == (
        1,
        [{"kind": "contact", "item": "ole-brandt", "change": "added", "fields": []}],
    ), ran.output
    ran = diff(more, plain)
    assert ran.code == 1 and ran.out.splitlines()[0] == "contact ole-brandt: removed", ran.output


def test_it_refuses_a_folder_that_is_not_an_export_with_exit_2(
    example_dir: Path, tmp_path: Path
) -> None:
    good = export_of(example_dir, tmp_path / "good")
    for bad in (example_dir, tmp_path / "missing"):
        ran = diff(good, bad)
        assert ran.code == 2, ran.output
        assert (
            str(bad) in ran.err and "not an opsbinder export" in ran.err
        ) or "no such" in ran.err
        ran = diff(bad, good)
        assert ran.code == 2, ran.output


def test_it_names_the_problem_of_an_export_whose_binder_is_broken_with_exit_2(
    example_dir: Path, tmp_path: Path
) -> None:
    good = export_of(example_dir, tmp_path / "good")
    broken = export_of(
        example_dir, tmp_path / "broken", ("oncall.yaml", "handoff_day: mon", "handoff_day: mo")
    )
    ran = diff(good, broken)
    assert ran.code == 2, ran.output
    assert str(broken / "binder" / "oncall.yaml") in ran.err and "handoff_day" in ran.err
