"""The CLI says the same thing the same way: every command and option explains itself in --help,
the client is always `--client`, the binder folder always `-c/--config`, and every command that
lists things can say it as JSON (`--json`) for scripts."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from typer.core import TyperArgument, TyperOption

from opsbinder import runs
from opsbinder.clock import SystemClock
from opsbinder.store.db import session_scope
from tests.cli.conftest import World
from tests.cli.installed import commands, run_cli
from tests.cli.test_exit_codes import _checklist

# Commands that list records: each takes --json.
LISTINGS = {
    "history",
    "workitems",
    "audit list",
    "incidents list",
    "oncall now",
    "outbox list",
    "updates list",
    "users list",
    "users sessions",
    "integrations list",
}


def _visible(cmd: object) -> list[TyperOption | TyperArgument]:
    params = getattr(cmd, "params", [])
    return [p for p in params if not getattr(p, "hidden", False)]


def test_the_walk_sees_every_command_group() -> None:
    names = {name for name, _ in commands()}
    assert len(names) > 50
    assert {"validate", "incidents list", "users token", "binder export"} <= names


def test_every_command_and_option_has_help_text() -> None:
    missing = [name for name, cmd in commands() if not (getattr(cmd, "help", "") or "").strip()]
    missing += [
        f"{name} {'/'.join(p.opts)}"
        for name, cmd in commands()
        for p in _visible(cmd)
        if p.name != "show_version" and not (getattr(p, "help", "") or "").strip()
    ]
    assert missing == []


def test_the_client_is_always_the_option_client() -> None:
    wrong = [
        f"{name}: {'/'.join(p.opts)}"
        for name, cmd in commands()
        for p in _visible(cmd)
        if p.name in {"client", "client_id"}
        and (isinstance(p, TyperArgument) or p.opts != ["--client"])
    ]
    assert wrong == []


def test_the_binder_folder_is_always_c_or_config() -> None:
    wrong = [
        f"{name}: {'/'.join(p.opts)}"
        for name, cmd in commands()
        for p in _visible(cmd)
        if p.name in {"config", "config_dir", "path", "folder"}
        and name != "binder import"  # an export to import, not the binder folder
        and sorted(p.opts) != ["--config", "-c"]
    ]
    assert wrong == []


def test_every_listing_command_offers_json() -> None:
    by_name = dict(commands())
    assert set(by_name) >= LISTINGS
    without = [
        name
        for name in sorted(LISTINGS)
        if "--json" not in {o for p in _visible(by_name[name]) for o in p.opts}
    ]
    assert without == []


def _skipped_run(world: World) -> None:
    with session_scope(world.engine) as session:
        runs.record_skipped(
            session,
            SystemClock(),
            client_id="nordhafen",
            procedure_key="check-tms-backup",
            reason="holiday",
        )


def _cli(line: str) -> Callable[[World], None]:
    def prepare(world: World) -> None:
        ran = run_cli(world.args(line), world.env)
        assert ran.code == 0, str(ran)

    return prepare


def _nothing(world: World) -> None:
    return None


# What each listing's JSON holds in the example world (tests/cli/conftest.py), after `prepare`:
# a record it must contain, so an empty array never passes for a listing that works.
JSON_CASES: list[tuple[str, Callable[[World], None], Callable[[Any], bool]]] = [
    ("incidents list --json", _nothing, lambda data: data[0]["severity"] == "sev1"),
    (
        "audit list --json",
        _nothing,
        lambda data: any(e["action"] == "procedure.created" for e in data),
    ),
    ("outbox list --json", _nothing, lambda data: data[0]["target"] == "ops-pager"),
    ("oncall now --json", _nothing, lambda data: "l1-weekly" in {r["schedule"] for r in data}),
    ("users list --json", _nothing, lambda data: data["tokens"][0]["name"] == "ci-token"),
    (
        "integrations list --json",
        _cli("integrations create --client nordhafen --name grafana"),
        lambda data: data[0]["name"] == "grafana" and data[0]["client"] == "nordhafen",
    ),
    (
        "updates list {incident} --json",
        _cli("updates post {incident} --status s --next-steps n --impact i"),
        lambda data: data[0]["seq"] == 1 and data[0]["current_status"] == "s",
    ),
    ("workitems --json", _checklist, lambda data: data[0]["title"] == "Restore test"),
    ("history --json", _skipped_run, lambda data: data[0]["outcome"] == "skipped"),
]


@pytest.mark.parametrize(("line", "prepare", "holds"), JSON_CASES, ids=[c[0] for c in JSON_CASES])
def test_a_listing_says_it_as_json_a_script_parses(
    line: str, prepare: Callable[[World], None], holds: Callable[[Any], bool], world: World
) -> None:
    prepare(world)
    ran = run_cli(world.args(line), world.env)
    assert ran.code == 0, str(ran)
    if line.startswith("history"):  # JSON lines: one run a line, for streaming
        data = [json.loads(row) for row in ran.out.splitlines() if row.strip()]
    else:
        data = json.loads(ran.out)
    assert holds(data), ran.out[:2000]
    assert "Traceback" not in ran.output


SPELLINGS = [
    ("validate -c {example}", 0, "valid"),
    ("validate {example}", 0, "valid"),  # the older positional spelling still works
    ("load --config {example}", 0, "unchanged"),
    ("users status-token --client nordhafen", 0, "/status/nordhafen?token="),
    ("users status-token nordhafen", 0, "/status/nordhafen?token="),
    ("users status-token", 2, "--client"),
    ("users status-token --client nordhafen lindqvist", 2, "two clients named"),
]


@pytest.mark.parametrize(("line", "code", "says"), SPELLINGS, ids=[s[0] for s in SPELLINGS])
def test_it_takes_the_one_spelling_and_the_old_one(
    line: str, code: int, says: str, world: World
) -> None:
    ran = run_cli(world.args(line), world.env)
    assert ran.code == code, str(ran)
    assert says in ran.output and "Traceback" not in ran.output, str(ran)
