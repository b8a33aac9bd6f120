"""The CLI of this area: users, tokens, updates (no edit or delete command exists)."""

from __future__ import annotations

import sys

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from opsbinder.accounts import hash_token
from opsbinder.cli.main import app, main
from opsbinder.store.db import session_scope
from opsbinder.store.models import AccessToken, StatusUpdate, User

runner = CliRunner()


def run_main(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["opsbinder", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_it_adds_users_and_issues_tokens_shown_once_and_stored_hashed(
    store, two_clients, monkeypatch
):
    monkeypatch.setenv("OPSBINDER_NEW_PASSWORD", "a long enough password")
    result = runner.invoke(app, ["users", "add", "bob", "--role", "L2", "--name", "Bob"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["users", "status-token", "lindqvist"])
    assert result.exit_code == 0, result.output
    link = result.stdout.strip().splitlines()[0]
    assert "/status/lindqvist?token=obs_" in link
    token = link.split("token=")[1]
    result = runner.invoke(
        app, ["users", "token", "ci", "--scope", "incidents:read", "--client", "nordhafen"]
    )
    api_token = result.stdout.strip().splitlines()[0]
    with session_scope(store) as s:
        assert s.execute(select(User).where(User.username == "bob")).scalar_one().role == "L2"
        rows = {t.token_hash: t for t in s.execute(select(AccessToken)).scalars()}
    assert rows[hash_token(token)].client_id == "lindqvist"
    assert rows[hash_token(api_token)].scopes == ["incidents:read"]
    result = runner.invoke(app, ["users", "revoke", token[:12]])
    assert result.exit_code == 0 and "revoked" in result.stdout
    listing = runner.invoke(app, ["users", "list"]).stdout
    assert "revoked" in listing and token not in listing


def test_it_refuses_a_bad_role_and_an_unknown_scope_cleanly(
    store, two_clients, monkeypatch, capsys
):
    monkeypatch.setenv("OPSBINDER_NEW_PASSWORD", "a long enough password")
    code, out = run_main(monkeypatch, capsys, "users", "add", "eve", "--role", "boss")
    assert code == 2 and "role: 'boss' is not one of" in out and "Traceback" not in out
    code, out = run_main(monkeypatch, capsys, "users", "token", "x", "--scope", "root")
    assert code == 2 and "scopes: root not valid" in out


def test_it_posts_and_lists_updates_and_refuses_one_too_soon(
    store, two_clients, monkeypatch, capsys
):
    monkeypatch.setenv("OPSBINDER_ACTOR", "carol")
    args = [
        "updates",
        "post",
        str(two_clients.incident_a),
        "--status",
        "Restoring",
        "--next-steps",
        "Verify",
        "--impact",
        "Scanners down",
        "--bridge",
        "https://meet.example/x",
    ]
    code, out = run_main(monkeypatch, capsys, *args)
    assert code == 0 and "update #1 posted" in out
    code, out = run_main(monkeypatch, capsys, *args)  # the system clock has not moved 2h
    assert code == 4 and "insist with force" in out and "Traceback" not in out
    code, out = run_main(monkeypatch, capsys, *args, "--force", "--corrects", "1")
    assert code == 0 and "update #2 posted" in out
    result = runner.invoke(app, ["updates", "list", str(two_clients.incident_a)])
    assert result.exit_code == 0 and "chain verifies: 2 update(s)" in result.stdout
    with session_scope(store) as s:
        assert {u.author for u in s.execute(select(StatusUpdate)).scalars()} == {"carol"}
    assert runner.invoke(app, ["updates", "edit"]).exit_code != 0
    assert runner.invoke(app, ["updates", "delete"]).exit_code != 0


def test_it_adds_the_account_executive_as_stakeholder(store, two_clients):
    result = runner.invoke(
        app, ["updates", "stakeholders", str(two_clients.incident_b), "--add", "mark-olsen"]
    )
    assert result.exit_code == 0, result.output
    assert "mark-olsen" in result.stdout and "jonas-weber" in result.stdout
    result = runner.invoke(app, ["updates", "commander", str(two_clients.incident_b), "priya-nair"])
    assert result.exit_code == 0 and "priya-nair is the commander" in result.stdout


@pytest.mark.slow
def test_it_serves_the_app_with_opsbinder_web(store, two_clients, tmp_path):
    import os
    import subprocess
    import time
    import urllib.error
    import urllib.request

    from tests.web.conftest import free_port

    port = free_port()
    env = {**os.environ, "OPSBINDER_HOME": str(tmp_path)}
    server = subprocess.Popen(
        [sys.executable, "-m", "opsbinder.cli.main", "web", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/status/nordhafen/feed.atom?token={two_clients.status_a}"
                ) as r:
                    page = r.read().decode()
                break
            except urllib.error.HTTPError:
                raise
            except urllib.error.URLError:  # not listening yet
                assert server.poll() is None and time.monotonic() < deadline, "did not start"
                time.sleep(0.3)
        assert "Nordhafen Logistik" in page and "<feed" in page
        assert (tmp_path / "web_secret").stat().st_mode & 0o777 == 0o600
    finally:
        server.terminate()
        server.wait(10)
