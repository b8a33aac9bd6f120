"""A lockdown that locks, through the CLI as a person types it: the installed `opsbinder` script
in a subprocess. Every command that acts on the locked-down client is refused (exit 4, one line,
no traceback, an audit entry, nothing changed) unless an admin proves it with a password; a
name (`--actor`, OPSBINDER_ACTOR) proves nothing. A flow started by hand runs nothing either.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from opsbinder import accounts
from opsbinder.authorization import Principal
from opsbinder.clock import FrozenClock
from opsbinder.handover import lockdown
from opsbinder.incidents import lifecycle
from opsbinder.store.db import session_scope
from opsbinder.store.models import (
    AuditEntry,
    Client,
    Incident,
    IncidentEvent,
    Procedure,
    Run,
    StatusUpdate,
    WorkItem,
)

BIN = Path(sys.executable).parent
PASSWORD = "correct horse 42"


def opsbinder(
    store: Engine, home: Path, *argv: str, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "opsbinder"), *argv],
        env={**environment(store, home), "OPSBINDER_ACTOR": "lena", **env},
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def environment(store: Engine, home: Path) -> dict[str, str]:
    mine = {k: v for k, v in os.environ.items() if not k.startswith("OPSBINDER_ADMIN")}
    return {
        **mine,
        "OPSBINDER_DATABASE_URL": store.url.render_as_string(hide_password=False),
        "OPSBINDER_HOME": str(home),
        "PREFECT_HOME": str(home / "prefect"),
        "COLUMNS": "200",
    }


def audited(store: Engine, action: str) -> int:
    with session_scope(store) as s:
        return int(
            s.execute(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
            ).scalar_one()
        )


def state(store: Engine) -> tuple[object, ...]:
    """Everything these commands could change about the client."""
    with session_scope(store) as s:
        incidents = tuple(
            (i.id, i.state, i.assignee, i.commander)
            for i in s.execute(select(Incident).order_by(Incident.id)).scalars()
        )
        return (
            incidents,
            s.execute(select(func.count()).select_from(IncidentEvent)).scalar_one(),
            s.execute(select(func.count()).select_from(StatusUpdate)).scalar_one(),
            tuple(s.execute(select(Procedure.key, Procedure.paused).order_by(Procedure.key))),
            s.execute(select(Client.paused, Client.locked_down)).one(),
            tuple(s.execute(select(WorkItem.id, WorkItem.completed_at).order_by(WorkItem.id))),
            s.execute(select(func.count()).select_from(Run)).scalar_one(),
            tuple(s.execute(select(Procedure.key, Procedure.cron).order_by(Procedure.key))),
        )


@pytest.fixture
def locked(loaded: Engine, clock: FrozenClock, tmp_path: Path) -> int:
    """The example client with an open Severity-1 incident and staff, locked down by lena."""
    with session_scope(loaded) as s:
        for name, role in (("ada", "admin"), ("mark", "L2"), ("lena", "L1")):
            accounts.add_user(s, clock, username=name, role=role, password=PASSWORD, actor="t")
        incident = lifecycle.trigger(
            s,
            clock,
            client_id="nordhafen",
            procedure_key="check-tms-backup",
            dedup_key="nordhafen/check-tms-backup:failed",
            title="TMS backup missing",
            severity="sev1",
            details={},
        ).id
    with session_scope(loaded) as s:
        lockdown.lock_down(s, "nordhafen", clock, principal=Principal.operator("lena"))
    return incident


def _refusals(incident: int) -> list[tuple[str, ...]]:
    n = str(incident)
    return [
        ("incidents", "ack", n),
        ("incidents", "resolve", n),
        ("incidents", "note", n, "db ok"),
        ("incidents", "assign", n, "priya-nair"),
        ("updates", "post", n, "--status", "s", "--next-steps", "n", "--impact", "i"),
        ("updates", "stakeholders", n, "--add", "mark-olsen"),
        ("updates", "commander", n, "mark-olsen"),
        ("pause", "check-disk-space", "--client", "nordhafen"),
        ("resume", "--client", "nordhafen"),
        ("run", "check-disk-space", "--client", "nordhafen"),
        ("done", "lockdown-checklist", "--client", "nordhafen", "--note", "x"),
        ("binder", "verify", "--client", "nordhafen"),
        ("lockdown", "--client", "nordhafen", "--lift"),
        ("lockdown", "--client", "nordhafen", "--lift", "--actor", "ada"),  # a name, no proof
    ]


def _assert_refused(result: subprocess.CompletedProcess[str], argv: tuple[str, ...]) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 4, (argv, result.returncode, result.stdout, result.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: refused"), (argv, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr, argv


def test_it_refuses_every_command_on_a_locked_down_client_without_an_admins_proof(
    loaded: Engine, locked: int, tmp_path: Path, example_dir: Path
) -> None:
    changed = tmp_path / "binder"
    shutil.copytree(example_dir, changed)
    procedures = changed / "procedures.yaml"
    procedures.write_text(procedures.read_text().replace("0 5 2 * *", "0 5 3 * *"))
    assert opsbinder(loaded, tmp_path, "validate", str(changed)).returncode == 0
    before = state(loaded)
    archived = tmp_path / "archived"  # what an archive run left: its manifest names the client
    archived.mkdir()
    (archived / "b1.manifest.json").write_text(
        '{"client": "nordhafen", "procedure": "archive-delivered-orders", "file": "b1.jsonl"}'
    )
    restore = ("archive", "restore", str(archived), "--into", "orders", "--url-env", "TMS_URL")
    for argv in [*_refusals(locked), ("load", str(changed)), restore]:
        refused = audited(loaded, "access.refused")
        result = opsbinder(loaded, tmp_path, *argv)
        _assert_refused(result, argv)
        assert "locked down" in result.stderr or "only an admin" in result.stderr, argv
        assert audited(loaded, "access.refused") == refused + 1, argv
    assert state(loaded) == before


@pytest.mark.parametrize(
    ("who", "password", "audit_action"),
    [("mark", PASSWORD, "access.refused"), ("ada", "not the password", "user.sign_in_failed")],
    ids=["a proven L2", "an admin's name with a wrong password"],
)
def test_it_refuses_a_proof_that_is_not_an_admins(
    loaded: Engine, locked: int, tmp_path: Path, who: str, password: str, audit_action: str
) -> None:
    before = state(loaded)
    for argv in (("resume", "--client", "nordhafen"), ("incidents", "ack", str(locked))):
        count = audited(loaded, audit_action)
        result = opsbinder(
            loaded, tmp_path, *argv, "--admin", who, OPSBINDER_ADMIN_PASSWORD=password
        )
        _assert_refused(result, argv)
        assert audited(loaded, audit_action) == count + 1
    assert state(loaded) == before


def test_it_lets_a_proven_admin_act_and_lift_and_then_everyone_again(
    loaded: Engine, locked: int, tmp_path: Path
) -> None:
    proof = {"OPSBINDER_ADMIN_PASSWORD": PASSWORD}

    def incident() -> Incident:
        with session_scope(loaded) as s:
            row = s.get(Incident, locked)
            assert row is not None
            return row

    def paused(key: str) -> bool:
        with session_scope(loaded) as s:
            return bool(
                s.execute(select(Procedure.paused).where(Procedure.key == key)).scalar_one()
            )

    steps: list[tuple[tuple[str, ...], Callable[[], bool]]] = [
        (("incidents", "ack", str(locked)), lambda: incident().acknowledged_by == "ada"),
        (("pause", "check-disk-space", "--client", "nordhafen"), lambda: paused("check-disk-space")),
        (("done", "lockdown-checklist", "--client", "nordhafen", "--note", "keys handed back"),
         lambda: audited(loaded, "checklist.completed") == 1),
    ]  # fmt: skip
    for argv, done in steps:
        result = opsbinder(loaded, tmp_path, *argv, "--admin", "ada", **proof)
        assert result.returncode == 0, (argv, result.stdout, result.stderr)
        assert done(), argv
    # the password may also be typed at the prompt
    lifted = subprocess.run(
        [str(BIN / "opsbinder"), "lockdown", "--client", "nordhafen", "--lift", "--admin", "ada"],
        env=environment(loaded, tmp_path),
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,  # no terminal to ask on: the prompt reads stdin
    )
    assert lifted.returncode == 0, (lifted.stdout, lifted.stderr)
    assert "lifted by ada" in lifted.stdout
    # lifted: the operator acts again as before the lockdown
    note = opsbinder(loaded, tmp_path, "incidents", "note", str(locked), "back to normal")
    assert note.returncode == 0, note.stderr


@pytest.mark.slow
def test_it_runs_a_procedure_for_a_proven_admin_and_refuses_a_flow_started_by_hand(
    loaded: Engine, locked: int, tmp_path: Path
) -> None:
    def runs() -> list[tuple[str, str]]:
        with session_scope(loaded) as s:
            return [(r.actor, r.outcome) for r in s.execute(select(Run).order_by(Run.id)).scalars()]

    # started by hand, as a person on the Prefect server would (the code the web launches)
    by_hand = subprocess.run(
        [
            sys.executable,
            "-c",
            "from opsbinder.orchestrator.local import prefect_defaults, run_procedure; "
            "prefect_defaults(); "
            "print(run_procedure('nordhafen', 'monthly-restore-test', actor='mallory').outcome)",
        ],
        env=environment(loaded, tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert by_hand.stdout.strip().splitlines()[-1] == "skipped", by_hand.stderr[-2000:]
    assert runs() == [("mallory", "skipped")]
    assert audited(loaded, "access.refused") == 1
    with session_scope(loaded) as s:
        assert s.execute(select(WorkItem).where(WorkItem.title.like("%restore%"))).first() is None

    ran = opsbinder(
        loaded,
        tmp_path,
        "run",
        "monthly-restore-test",
        "--client",
        "nordhafen",
        "--admin",
        "ada",
        OPSBINDER_ADMIN_PASSWORD=PASSWORD,
    )
    assert ran.returncode == 0, (ran.stdout, ran.stderr[-2000:])
    assert runs()[-1] == ("ada", "ok")
