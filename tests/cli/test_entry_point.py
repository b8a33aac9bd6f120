"""The entry point itself, black box: usage errors, --version, Ctrl-C, bugs, an unreachable store."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.installed import ROOT, Ran, environment, run_cli
from tests.support.terminal import ctrl_c_enabled


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return environment(tmp_path / "home", f"sqlite:///{tmp_path / 'store.db'}")


def _one_line_usage_error(ran: Ran, hint: str) -> None:
    assert ran.code == 2, str(ran)
    assert ran.out == "", str(ran)
    assert ran.err.count("\n") == 1, f"not one line:\n{ran}"
    assert ran.err.startswith("error: ") and ran.err.rstrip().endswith(hint), str(ran)
    assert "Traceback" not in ran.output


@pytest.mark.parametrize(
    ("args", "says", "hint"),
    [
        (["incidents", "show", "abc"], "'abc'", "Try 'opsbinder incidents show --help'."),
        (["incidents", "list", "--bogus"], "No such option: --bogus", "list --help'."),
        (["binder", "audit"], "Missing option '--client'", "Try 'opsbinder binder audit --help'."),
        (["no-such-command"], "No such command 'no-such-command'", "Try 'opsbinder --help'."),
        (["oncall", "ical"], "Missing argument", "Try 'opsbinder oncall ical --help'."),
        (["history", "--limit", "many"], "(value: 'many')", "Try 'opsbinder history --help'."),
        (["--bogus"], "No such option: --bogus", "Try 'opsbinder --help'."),
    ],
)
def test_it_says_a_usage_error_in_one_line_with_a_hint_and_exits_2(
    env: dict[str, str], args: list[str], says: str, hint: str
) -> None:
    ran = run_cli(args, env)
    _one_line_usage_error(ran, hint)
    assert says in ran.err


def test_it_prints_the_version_and_exits_0(env: dict[str, str]) -> None:
    from importlib.metadata import version

    ran = run_cli(["--version"], env)
    assert ran.code == 0 and ran.out == f"opsbinder {version('opsbinder')}\n", str(ran)
    assert ran.err == ""


def test_it_prints_the_help_without_a_command_and_exits_2(env: dict[str, str]) -> None:
    """No command is a usage error (README: exit status): help on stdout, exit 2."""
    ran = run_cli([], env)
    assert ran.code == 2, str(ran)
    assert "Usage: opsbinder" in ran.out and "incidents" in ran.out and "--version" in ran.out
    grouped = run_cli(["incidents"], env)
    assert grouped.code == 2 and "Usage: opsbinder incidents" in grouped.out, str(grouped)
    assert "Traceback" not in ran.output + grouped.output


def test_it_prints_help_on_request_and_exits_0(env: dict[str, str]) -> None:
    ran = run_cli(["incidents", "show", "--help"], env)
    assert ran.code == 0 and "Usage: opsbinder incidents show" in ran.out, str(ran)


def test_it_says_in_one_line_that_a_postgresql_store_is_unreachable_and_exits_5(
    env: dict[str, str],
) -> None:
    env["OPSBINDER_DATABASE_URL"] = "postgresql+psycopg2://ops:s3cret@127.0.0.1:9/opsbinder"
    ran = run_cli(["incidents", "list"], env)
    assert ran.code == 5, str(ran)
    assert ran.err.count("\n") == 1 and "cannot reach the store at" in ran.err, str(ran)
    assert "Connection refused" in ran.err and "127.0.0.1" in ran.err
    assert "s3cret" not in ran.output and "Traceback" not in ran.output


def test_it_says_a_sqlite_store_it_cannot_create_is_unreachable_and_exits_5(
    env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    env["OPSBINDER_DATABASE_URL"] = f"sqlite:///{tmp_path / 'a-file' / 'store.db'}"
    ran = run_cli(["audit", "verify"], env)
    assert ran.code == 5 and ran.err.count("\n") == 1, str(ran)
    assert "Traceback" not in ran.output


def test_it_says_a_url_that_is_no_database_url_is_bad_input(env: dict[str, str]) -> None:
    env["OPSBINDER_DATABASE_URL"] = "not a url at all"
    ran = run_cli(["incidents", "list"], env)
    assert ran.code == 2 and "OPSBINDER_DATABASE_URL" in ran.err, str(ran)
    assert "Traceback" not in ran.output


# A command the app does not have, added in a child process that runs the same entry point:
# the only way to make a real bug happen on purpose.
CHILD = """
import sys, time
from opsbinder.cli.main import app, main

@app.command("boom")
def boom(password: str = "") -> None:
    raise RuntimeError("an unexpected state")

@app.command("sleepy")
def sleepy() -> None:
    print("ready", flush=True)
    time.sleep(120)

sys.argv = ["opsbinder", *sys.argv[1:]]
main()
"""


def _child(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ctrl_c_enabled,
    )


def test_it_reports_a_bug_in_one_line_and_writes_the_traceback_to_a_private_file(
    env: dict[str, str], tmp_path: Path
) -> None:
    child = _child(["boom", "--password", "hunter2"], env)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 70, err
    assert "Traceback" not in out + err and err.count("\n") == 1, err
    assert "internal error (RuntimeError)" in err and "a bug in opsbinder" in err
    (trace,) = (tmp_path / "home" / "crash").iterdir()
    assert str(trace) in err
    written = trace.read_text()
    assert "Traceback" in written and "an unexpected state" in written
    assert written.startswith("opsbinder ") and written.splitlines()[0].endswith(": boom")
    assert "hunter2" not in written  # option values may be secrets
    assert stat.S_IMODE(trace.stat().st_mode) == 0o600


def test_it_exits_130_in_one_line_on_ctrl_c(env: dict[str, str]) -> None:
    child = _child(["sleepy"], env)
    assert child.stdout is not None
    assert child.stdout.readline() == "ready\n"
    os.kill(child.pid, signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert err == "interrupted\n" and "Traceback" not in out + err
