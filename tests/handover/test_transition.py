"""`binder audit` on the transition plan: each missing part provoked by a broken binder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from opsbinder.clock import FrozenClock
from tests.handover.conftest import fix_in
from tests.handover.test_completeness import audit_of, only

Mutate = Callable[[dict[str, Any]], None]


def _plan(data: dict[str, Any]) -> dict[str, Any]:
    plan: dict[str, Any] = data["transition"]
    return plan


def _drop(key: str) -> Mutate:
    return lambda data: _plan(data).pop(key)


def _no_reachable_incoming(data: dict[str, Any]) -> None:
    for person in _plan(data)["incoming"]["contacts"]:
        person.update(phone=None, email=None)


def _forget(contact: str) -> Mutate:
    def mutate(data: dict[str, Any]) -> None:
        plan = _plan(data)
        plan["outgoing"] = [p for p in plan["outgoing"] if p["contact"] != contact]

    return mutate


def _leaves_early(data: dict[str, Any]) -> None:
    _plan(data)["outgoing"][1]["reachable_until"] = "2026-04-30"  # the pager moves 2026-05-04


def _unlisted(variable: str) -> Mutate:
    def mutate(data: dict[str, Any]) -> None:
        plan = _plan(data)
        plan["credentials"] = [c for c in plan["credentials"] if c["variable"] != variable]

    return mutate


def _unconfirmed(data: dict[str, Any]) -> None:
    _plan(data)["credentials"][0]["confirmed_by"] = "  "


CASES: dict[str, tuple[Mutate, str, str]] = {
    "transition-missing": (
        lambda data: data.pop("transition"),
        "transition",
        "no transition plan",
    ),
    "transition-no-incoming": (_drop("incoming"), "transition.incoming", "no incoming provider"),
    "transition-incoming-unreachable": (
        _no_reachable_incoming,
        "transition.incoming.contacts",
        "nobody at the incoming provider 'Elbkai IT Services GmbH' has a phone or e-mail",
    ),
    "transition-no-pager-date": (_drop("pager_moves"), "transition.pager_moves", "pager moves"),
    "transition-outgoing-unknown": (
        _forget("mark-olsen"),
        "transition.outgoing",
        "mark-olsen is paged by the outgoing escalation path",
    ),
    "transition-outgoing-leaves-early": (
        _leaves_early,
        "transition.outgoing",
        "tom-berger is reachable only until 2026-04-30, before the pager moves on 2026-05-04",
    ),
    "transition-credential-missing": (
        _unlisted("OPSBINDER_PAGER_WEBHOOK_SECRET"),
        "transition.credentials",
        "secret OPSBINDER_PAGER_WEBHOOK_SECRET (used by ops-pager.secret_env) is not on the "
        "credential hand-over checklist",
    ),
    "transition-credential-unconfirmed": (
        _unconfirmed,
        "transition.credentials",
        "the hand-over of NORDHAFEN_TMS_DB_URL does not say how the incoming side confirms",
    ),
}


def test_the_example_plan_is_complete(store: Engine, clock: FrozenClock, example_dir: Path) -> None:
    report = audit_of(store, clock, example_dir)
    assert not [f for f in report.findings if f.code.startswith("transition")]


@pytest.mark.parametrize("code", sorted(CASES))
def test_it_reports_a_transition_missing_a_part(
    code: str, store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    mutate, located, words = CASES[code]
    report = audit_of(store, clock, example_dir, mutate)
    found = [f for f in report.findings if f.code.startswith("transition")]
    assert [f.code for f in found] == [code]
    assert words in found[0].message
    assert only(report, code) == [fix_in("transition.yaml", located)]
    assert report.score < 100


def test_the_export_shows_the_plan_on_its_own_page_and_in_the_markdown(
    loaded: Engine, clock: FrozenClock, tmp_path: Path
) -> None:
    from opsbinder.handover.export import export_client
    from opsbinder.store.db import session_scope

    with session_scope(loaded) as session:
        export_client(session, "nordhafen", tmp_path / "out", clock, actor="tester")
    page = (tmp_path / "out" / "transition.html").read_text()
    for needed in (
        "Elbkai IT Services GmbH",
        "Piotr Nowak",
        "+49 40 8880 120",
        "<strong>2026-05-04</strong>",
        "Mark Olsen</a></td><td>2026-07-31",
        "<code>NORDHAFEN_TMS_DB_URL</code>",
        "a test page reaches Elbkai",
    ):
        assert needed in page, needed
    assert 'href="transition.html"' in (tmp_path / "out" / "index.html").read_text()
    markdown = (tmp_path / "out" / "binder.md").read_text()
    assert "## Transition plan" in markdown
    assert "- The pager moves: 2026-05-04" in markdown
    assert "- [ ] `OPSBINDER_PAGER_WEBHOOK_SECRET` handed over by Mark Olsen" in markdown
    assert "transition:" in (tmp_path / "out" / "binder" / "transition.yaml").read_text()


def test_the_installed_audit_names_a_missing_plan_and_a_contradiction(
    store: Engine, tmp_path: Path, example_dir: Path
) -> None:
    from tests.cli.installed import environment, run_cli
    from tests.config.binders import Defect, broken_copy

    folder = broken_copy(
        example_dir,
        tmp_path,
        Defect("oncall.yaml", "{contact: lena-fischer, start", "{contact: ayse-demir, start",
               "", None, None, ""),
    )  # fmt: skip
    (folder / "transition.yaml").unlink()
    env = environment(tmp_path / "home", store.url.render_as_string(hide_password=False))
    loaded = run_cli(["load", "-c", str(folder)], env)
    assert loaded.code == 0, str(loaded)
    ran = run_cli(["binder", "audit", "--client", "nordhafen", "--min-score", "100"], env)
    assert ran.code == 1, str(ran)
    assert "Traceback" not in ran.output
    assert "  [transition-missing] no transition plan" in ran.out
    assert "      fix in transition.yaml · transition\n" in ran.out
    assert "  [oncall-override-no-op] on-call l1-weekly: the override for ayse-demir" in ran.out
