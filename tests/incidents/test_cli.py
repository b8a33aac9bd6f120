from __future__ import annotations

import json
import sys

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from opsbinder.cli.main import app, main
from opsbinder.clock import FrozenClock
from opsbinder.incidents import lifecycle
from opsbinder.store.db import session_scope

runner = CliRunner()


def _open(store: Engine, clock: FrozenClock, key: str, severity: str) -> int:
    with session_scope(store) as s:
        return lifecycle.trigger(
            s,
            clock,
            client_id="nordhafen",
            procedure_key=key,
            dedup_key=f"nordhafen/{key}",
            title=f"{key}: Failed",
            severity=severity,
            details={"error": "boom [red]not markup[/red]"},
        ).id


def _ids(args: list[str]) -> set[int]:
    out = runner.invoke(app, ["incidents", "list", "--json", *args])
    assert out.exit_code == 0, out.output
    return {i["id"] for i in json.loads(out.output)}


def test_it_lists_with_filters_and_walks_the_lifecycle(
    loaded: Engine, clock: FrozenClock, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPSBINDER_ACTOR", "lena-fischer")
    a = _open(loaded, clock, "check-tms-backup", "sev2")
    b = _open(loaded, clock, "check-disk-space", "sev1")
    assert _ids(["--severity", "sev1"]) == {b}
    assert runner.invoke(app, ["incidents", "list"]).exit_code == 0  # the table
    assert runner.invoke(app, ["incidents", "ack", str(a)]).exit_code == 0
    assert _ids(["--state", "acknowledged", "--client", "nordhafen"]) == {a}
    assert _ids(["--client", "someone-else"]) == set()
    assert runner.invoke(app, ["incidents", "note", str(a), "restarting the NAS"]).exit_code == 0
    assert runner.invoke(app, ["incidents", "assign", str(a), "priya-nair"]).exit_code == 0
    assert runner.invoke(app, ["incidents", "resolve", str(a), "-m", "dump found"]).exit_code == 0
    assert runner.invoke(app, ["incidents", "reopen", str(a)]).exit_code == 0
    out = runner.invoke(app, ["incidents", "show", str(a)])
    assert out.exit_code == 0, out.output
    for word in ("acknowledged", "note", "restarting the NAS", "assigned", "resolved", "reopened"):
        assert word in out.output
    assert "[red]not markup[/red]" in out.output
    assert _ids(["--state", "open"]) == {a, b}


def test_it_refuses_a_bad_transition_with_a_clean_message(
    loaded: Engine,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    iid = _open(loaded, clock, "check-tms-backup", "sev2")
    with session_scope(loaded) as s:
        lifecycle.resolve(s, clock, iid, actor="tom")
    for args, expected, code in (
        (["incidents", "ack", str(iid)], "is resolved; reopen it first", 4),
        (["incidents", "show", "999"], "no incident #999", 3),
        (["incidents", "list", "--severity", "sev9"], "--severity 'sev9'", 2),
    ):
        monkeypatch.setattr(sys, "argv", ["opsbinder", *args])
        with pytest.raises(SystemExit) as exit_info:
            main()
        err = capsys.readouterr().err
        assert exit_info.value.code == code
        assert expected in err
        assert "Traceback" not in err
