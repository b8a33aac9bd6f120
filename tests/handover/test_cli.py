"""The binder commands as a person types them: clean errors, exit codes, nothing half-written."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from opsbinder.cli.main import app, main
from opsbinder.clock import FrozenClock
from opsbinder.demo import demo_env, prepare_demo


def _main(monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    monkeypatch.setattr(sys, "argv", ["opsbinder", *argv])
    with pytest.raises(SystemExit) as exited:
        main()
    return int(exited.value.code or 0)


def test_it_names_an_unknown_client_without_a_traceback_and_writes_nothing(
    store: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for argv in (
        ("binder", "export", "--client", "nobody", str(tmp_path / "out")),
        ("binder", "audit", "--client", "nobody"),
        ("lockdown", "--client", "nobody", "--out", str(tmp_path / "out")),
    ):
        assert _main(monkeypatch, *argv) == 3
        err = capsys.readouterr().err
        assert "no client 'nobody' in the store" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_it_names_the_file_and_field_of_a_broken_import(
    store: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "handover" / "binder"
    folder.mkdir(parents=True)
    (folder / "client.yaml").write_text("client: {id: acme, name: Acme, timezone: Mars/Olympus}\n")
    assert _main(monkeypatch, "binder", "import", str(tmp_path / "handover")) == 2
    err = capsys.readouterr().err
    assert "client.yaml:1" in err and "client.timezone" in err and "Mars/Olympus" in err


def test_it_exits_1_when_a_verification_fails_and_lists_every_verdict(
    loaded: Engine, tmp_path: Path, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in demo_env(tmp_path / "demo").items():
        monkeypatch.setenv(name, value)
    prepare_demo(tmp_path / "demo", clock, rows=500)  # its backups are stale by now: a failure
    result = CliRunner().invoke(app, ["binder", "verify", "--client", "nordhafen"])
    assert result.exit_code == 1, result.output
    assert "FAILED          check-tms-backup:" in result.output
    assert "NOT VERIFIABLE  lockdown-checklist: not verifiable: a person signs it off" in (
        result.output
    )
    assert "8 procedure(s): 5 passed, 1 failed, 2 not verifiable" in result.output
