"""Exit status of every command, black box: the installed console script in a subprocess.

Each command of the app has a success path and at least one failure path in CASES (or a
dedicated test named in ELSEWHERE); a command added without one fails
`test_it_covers_every_command_of_the_app`. Every run asserts the exit code of README's table
and that neither stream holds a traceback. The cases marked `both` (writes, dialect-dependent
queries, the chains) run on PostgreSQL too; the rest on SQLite only, since every subprocess
costs about a second of CPU.
"""

from __future__ import annotations

import importlib
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from opsbinder import accounts, runs, shadow, workitems
from opsbinder.clock import FrozenClock, SystemClock
from opsbinder.demo import demo_env, prepare_demo
from opsbinder.incidents import lifecycle, status_updates
from opsbinder.procedures.result import ProcedureResult
from opsbinder.store.db import session_scope
from tests.cli.conftest import World
from tests.cli.installed import EXAMPLE, Ran, commands, run_cli

CLOSED_PORT_URL = "postgresql+psycopg2://postgres:s3cret@127.0.0.1:9/opsbinder"


Prepare = Callable[[World], None]


@dataclass(frozen=True)
class Case:
    line: str  # the command line after `opsbinder`, with {placeholders} of World.values
    code: int
    expect: str = ""  # a piece of the output that says why
    prepare: Prepare | None = None
    both: bool = False  # run on PostgreSQL too

    @property
    def id(self) -> str:
        return f"{self.line} -> {self.code}"


# --- what some cases need first ----------------------------------------------------------------


def _tamper_audit(world: World) -> None:
    with world.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1"))


def _anchor_then_cut(world: World) -> None:
    """The log's newest entry deleted after an anchor sealed it: a cut-off the anchor catches."""
    anchored = run_cli(["audit", "anchor"], world.env)
    assert anchored.code == 0, str(anchored)
    with world.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)"))


def _post_update(world: World) -> None:
    with session_scope(world.engine) as session:
        status_updates.post_update(
            session,
            SystemClock(),
            int(world.values["incident"]),
            author="carol",
            current_status="Restoring the NAS",
            next_steps="Verify the dump",
            business_impact="Scanners down",
            notify=False,
        )


def _tamper_update(world: World) -> None:
    _post_update(world)
    with world.engine.begin() as conn:
        conn.execute(text("UPDATE status_updates SET business_impact = 'none at all'"))


def _ack(world: World) -> None:
    with session_scope(world.engine) as session:
        lifecycle.acknowledge(session, SystemClock(), int(world.values["incident"]), actor="t")


def _resolve(world: World) -> None:
    with session_scope(world.engine) as session:
        lifecycle.resolve(session, SystemClock(), int(world.values["incident"]), actor="t")


def _checklist(world: World) -> None:
    with session_scope(world.engine) as session:
        workitems.create_once(
            session,
            SystemClock(),
            client_id="nordhafen",
            procedure_key="monthly-restore-test",
            kind="checklist",
            dedup_key="test/monthly-restore-test",
            title="Restore test",
            due_at=datetime.now(UTC) + timedelta(days=1),
            assignee=None,
        )


def _delivered(world: World) -> None:
    with world.engine.begin() as conn:
        conn.execute(text("UPDATE outbox SET delivered_at = created_at"))


def _unreachable(world: World) -> None:
    world.env["OPSBINDER_DATABASE_URL"] = CLOSED_PORT_URL


def _demo_systems(fresh: bool) -> Prepare:
    """The demo's systems; `fresh` dates them so that every check passes (no stale backup)."""

    def prepare(world: World) -> None:
        shift = timedelta(days=3) if fresh else timedelta(0)
        prepare_demo(world.tmp / "demo", FrozenClock(datetime.now(UTC) + shift), rows=200)
        world.env.update(demo_env(world.tmp / "demo"))

    return prepare


def _integration_key(world: World) -> None:
    made = run_cli(
        ["integrations", "create", "--client", "nordhafen", "--name", "zabbix"], world.env
    )
    assert made.code == 0, str(made)
    world.values["integration"] = made.out.strip()[:12]


def _second(world: World) -> None:
    """A second incident of the same client, as {other}."""
    with session_scope(world.engine) as session:
        other = lifecycle.trigger(
            session,
            SystemClock(),
            client_id="nordhafen",
            procedure_key=None,
            dedup_key="nordhafen/tms-down",
            title="TMS down",
            severity="sev2",
            details={},
        )
        world.values["other"] = str(other.id)


def _two_exports(world: World) -> None:
    """The client's binder exported twice, as {tmp}/old and {tmp}/new."""
    for name in ("old", "new"):
        made = run_cli(
            ["binder", "export", str(world.tmp / name), "--client", "nordhafen"], world.env
        )
        assert made.code == 0, str(made)


def _shadow_import(world: World) -> None:
    made = run_cli(
        ["binder", "import", str(EXAMPLE), "--shadow", "--until", "2099-12-31"], world.env
    )
    assert made.code == 0, str(made)


def _shadow_runs(agree: bool) -> Prepare:
    """A shadow begun yesterday, the backup check's real and shadow run of today's slot (the
    shadow's failed unless `agree`), and a fresh export as {tmp}/fresh."""

    def prepare(world: World) -> None:
        now = datetime.now(UTC)
        with session_scope(world.engine) as session:
            begun = FrozenClock(now - timedelta(days=1))
            until = now.date() + timedelta(days=1)
            shadow.begin(session, begun, "nordhafen", until, actor="t", source="t")
            for dry, status in ((False, "ok"), (True, "ok" if agree else "failed")):
                at = FrozenClock(now - timedelta(hours=1))
                run = runs.start_run(
                    session, at, client_id="nordhafen", procedure_key="check-tms-backup",
                    flow_run_id=None, scheduled_for=at.now(), dry_run=dry,
                )  # fmt: skip
                runs.finish_run(session, at, run.id, ProcedureResult(status, status))
        made = run_cli(
            ["binder", "export", str(world.tmp / "fresh"), "--client", "nordhafen"], world.env
        )
        assert made.code == 0, str(made)

    return prepare


def _password(world: World) -> None:
    world.env["OPSBINDER_NEW_PASSWORD"] = "a long enough password"


def _user(world: World) -> None:
    with session_scope(world.engine) as session:
        accounts.add_user(
            session, SystemClock(), username="ivy", role="L1", password="x" * 12, actor="t"
        )


def _user_and_password(world: World) -> None:
    _user(world)
    _password(world)


# --- the table ---------------------------------------------------------------------------------

CASES = [
    Case("validate {example}", 0, "valid (1 client(s))"),
    Case("validate {missing}", 2, "missing"),
    Case("schedule check-tms-backup -c {example}", 0, "check-tms-backup"),
    Case("schedule no-such-procedure -c {example}", 3, "no procedure 'no-such-procedure'"),
    Case("load {example}", 0, "unchanged", both=True),
    Case("load {missing}", 2),
    Case("demo --no-run --no-history -c {example}", 0, "What is scheduled for nordhafen"),
    Case("demo --no-run -c {missing}", 2),
    Case("run no-such-procedure", 3, "no procedure 'no-such-procedure'"),
    Case("run", 2, "give a PROCEDURE"),
    Case("done monthly-restore-test --note restored", 0, "signed off", _checklist),
    Case("done monthly-restore-test --note restored", 3),
    Case("workitems", 0, "Open work items (1)", _checklist),
    Case("workitems", 5, "cannot reach the store", _unreachable),
    Case("web --port 0", 2, "--port"),
    Case("serve -c {missing}", 2),
    Case("deploy --prefect-yaml {tmp}/prefect.yaml -c {example}", 0, "wrote"),
    Case("deploy --check", 5, "PREFECT_API_URL"),
    Case("pause check-tms-backup", 0, "paused in the store"),
    Case("pause no-such-procedure", 3),
    Case("resume check-tms-backup", 0, "already resumed"),
    Case("resume no-such-procedure", 3),
    Case("history", 0, both=True),
    Case("history --outcome bogus", 2, "--outcome must be one of"),
    Case("report --month 2026-03 --format json", 0, both=True),
    Case("report --month 2026-13", 2, "--month"),
    Case("lockdown --client nordhafen --out {tmp}/lockdown", 0, "LOCKED DOWN", both=True),
    Case("lockdown --client nobody", 3, "no client 'nobody'"),
    Case("db upgrade", 0, "at ", both=True),
    Case("db upgrade", 5, "cannot reach the store", _unreachable),
    Case("db status", 0, "pending: none"),
    Case("db status", 5, "cannot reach the store", _unreachable),
    Case("audit verify", 0, "chain verifies", both=True),
    Case("audit verify", 1, "BROKEN", _tamper_audit, both=True),
    Case("audit anchor", 0, "anchored #", both=True),
    Case("audit anchor", 1, "are gone", _anchor_then_cut),
    Case("audit verify", 1, "BROKEN", _anchor_then_cut),
    Case("audit list", 0, "sync"),
    Case("audit list --limit 0", 2, "--limit"),
    Case("incidents list", 0, "check-tms-backup", both=True),
    Case("incidents list --severity sev9", 2, "sev9"),
    Case("incidents show {incident}", 0, "timeline"),
    Case("incidents show 999999", 3, "no incident #999999"),
    Case("incidents ack {incident}", 0, "acknowledged", both=True),
    Case("incidents ack {incident}", 4, "", _ack),
    Case("incidents resolve {incident}", 0, "resolved"),
    Case("incidents resolve 999999", 3),
    Case("incidents reopen {incident}", 0, "reopened", _resolve),
    Case("incidents reopen {incident}", 4),
    Case("incidents note {incident} restarting", 0, "note added"),
    Case("incidents note {incident} ''", 2, "a note needs some text"),
    Case("incidents assign {incident} priya-nair", 0, "assigned"),
    Case("incidents assign 999999 priya-nair", 3),
    Case(
        "incidents declare --client nordhafen --severity sev1 --title 'TMS down' "
        "--public-title 'Order entry unavailable' --impact 'no orders' --dedup-key tms-down "
        "--component tms",
        0,
        "Severity-1 process started",
        both=True,
    ),
    Case("incidents declare --client nordhafen --severity sev0 --title t", 2, "sev0"),
    Case(
        "incidents declare --client nordhafen --severity sev2 --title t --component tmz",
        2,
        "component: 'tmz' is not a component of nordhafen",
    ),
    Case("incidents declare --client nobody --severity sev2 --title t", 3, "no client 'nobody'"),
    Case(
        "incidents declare --client nordhafen --severity sev2 --title t --dedup-key tms-down",
        4,
        "already open for 'tms-down'",
        _second,
    ),
    Case("incidents severity {incident} sev3 --reason 'one warehouse'", 0, "sev3", both=True),
    Case("incidents severity {incident} sev1", 4, "already sev1"),
    Case("incidents duplicate {other} --of {incident}", 0, "duplicate of", _second, both=True),
    Case("incidents duplicate {incident} --of 999999", 3, "no incident #999999"),
    Case("incidents public {incident} --title 'Backups late' --state identified", 0, "sees"),
    Case("incidents public {incident} --state fixed", 2, "public_state: 'fixed'"),
    Case("incidents wait {incident}", 0, "waits on the client", both=True),
    Case("incidents wait 999999", 3, "no incident #999999"),
    Case("housekeeping --store-only --dry-run", 0, "dry run", both=True),
    Case("housekeeping --store-only", 5, "cannot reach the store", _unreachable),
    Case("evidence --client nordhafen --month 2026-11 -o {tmp}/pack --no-pdf", 0, "manifest"),
    Case("evidence --client nobody --month 2026-11 -o {tmp}/pack --no-pdf", 3, "nobody"),
    Case("evidence --client nordhafen --month 2026-13 -o {tmp}/pack --no-pdf", 2, "2026-13"),
    Case("oncall now", 0, "l1-weekly"),
    Case("oncall now --client nobody", 3, "no client 'nobody'"),
    Case("oncall at '2026-03-29 02:30' --client nordhafen", 0, "l1-weekly"),
    Case("oncall at someday --client nordhafen", 2),
    Case("oncall ical l1-weekly", 0, "BEGIN:VCALENDAR"),
    Case("oncall ical no-such-schedule", 3, "no on-call schedule"),
    Case("outbox list", 0, "webhook"),
    Case("outbox list --limit 0", 2, "--limit"),
    Case("outbox deliver", 0, "delivered 0, failed 0", _delivered, both=True),
    Case("outbox deliver --limit 0", 2, "--limit"),
    Case("outbox retry {message}", 0, "will be sent"),
    Case("outbox retry 999999", 3, "no outbox message"),
    Case("outbox replay", 0, "replayed 0"),
    Case("outbox replay", 5, "cannot reach the store", _unreachable),
    Case("updates post {incident} --status s --next-steps n --impact i", 0, "posted", both=True),
    Case(
        "updates post {incident} --status s --next-steps n --impact i",
        4,
        "",
        _post_update,
    ),
    Case("updates list {incident}", 0, "chain verifies: 1 update(s)", _post_update),
    Case("updates list {incident}", 1, "chain broken", _tamper_update, both=True),
    Case("updates stakeholders {incident}", 0, "jonas-weber"),
    Case("updates stakeholders 999999", 3),
    Case("updates commander {incident} priya-nair", 0, "commander"),
    Case("updates commander {incident} nobody", 3, "not a contact"),
    Case("users add eve --role L1", 0, "added", _password, both=True),
    Case("users add eve --role L1", 2, "no password: set OPSBINDER_NEW_PASSWORD"),
    Case("users list", 0, "ci-token"),
    Case("users disable ivy", 0, "disabled; 0 session(s) ended", _user, both=True),
    Case("users disable nobody", 3, "no user 'nobody'"),
    Case("users enable ivy", 0, "enabled", _user),
    Case("users enable nobody", 3, "no user 'nobody'"),
    Case("users password ivy", 0, "password of ivy changed", _user_and_password, both=True),
    Case("users password ivy", 2, "no password", _user),
    Case("users sessions ivy", 0, "0 open session(s)", _user),
    Case("users sessions nobody", 3, "no user 'nobody'"),
    Case("users list", 5, "cannot reach the store", _unreachable),
    Case("users token deploy-bot --scope incidents:read", 0, "shown once"),
    Case("users token deploy-bot --scope root", 2, "root"),
    Case("users status-token nordhafen", 0, "/status/nordhafen?token="),
    Case("users status-token nobody", 3),
    Case("users revoke {token}", 0, "revoked"),
    Case("users revoke nope", 3),
    Case("integrations create --client nordhafen --name grafana", 0, "/v2/enqueue", both=True),
    Case("integrations create --client nobody --name grafana", 3, "no client 'nobody'"),
    Case("integrations create --client nordhafen --name ''", 2, "name"),
    Case("integrations list", 0, "zabbix", _integration_key),
    Case("integrations list", 5, "cannot reach the store", _unreachable),
    Case("integrations revoke {integration}", 0, "revoked", _integration_key),
    Case("integrations revoke {token}", 3, "no key starting"),
    Case("binder export {tmp}/export --client nordhafen", 0, "index.html"),
    Case("binder export {tmp}/export --client nobody", 3, "no client 'nobody'"),
    Case("binder audit --client nordhafen", 0, "completeness of nordhafen"),
    Case("binder audit --client nordhafen --min-score 100", 1, "completeness of nordhafen"),
    Case("binder audit --client nordhafen --json --min-score 100", 1, '"lost"'),
    Case("binder verify --client nordhafen", 0, "0 failed", _demo_systems(True), both=True),
    Case("binder verify --client nordhafen", 1, "FAILED", _demo_systems(False)),
    Case("binder diff {tmp}/old {tmp}/new", 0, "", _two_exports),
    Case("binder diff {missing} {missing}", 2, "no such folder"),
    Case("binder import {example}", 0, "imported nordhafen"),
    Case("binder import {missing}", 2),
    Case("binder import {example} --shadow --until 2099-12-31", 0, "nordhafen is a SHADOW"),
    Case("binder import {example} --shadow", 2, "--shadow needs --until"),
    Case("binder shadow-report {tmp}/fresh", 0, "all compared runs agree", _shadow_runs(True)),
    Case("binder shadow-report {tmp}/fresh", 1, "outcome differs", _shadow_runs(False), both=True),
    Case("binder shadow-report {missing}", 2, "no such folder"),
    Case("binder shadow-end --client nordhafen", 0, "nordhafen is LIVE", _shadow_import),
    Case("binder shadow-end --client nordhafen", 3, "not in a shadow period"),
    Case("archive restore no-such-procedure --into orders -c {example}", 3),
    Case("archive restore check-tms-backup --into orders -c {example}", 2, "not an archive"),
]

# Commands whose success path needs a server, a long run or a client database: the named tests.
ELSEWHERE = {
    "web": "test_long_running.test_it_serves_the_web_app_and_ctrl_c_stops_it",
    "run": "test_long_running.test_it_exits_0_for_a_passing_run_and_1_for_a_failed_one",
    "serve": "test_long_running.test_it_serves_on_a_prefect_server_and_ctrl_c_stops_it",
    "archive restore": "test_long_running.test_it_restores_an_archive",
}


def _command_of(line: str) -> str:
    words = shlex.split(line)
    names = {name for name, _ in commands()}
    found = [" ".join(words[:n]) for n in (2, 1) if " ".join(words[:n]) in names]
    assert found, f"{line!r} names no command"
    return found[0]


def _params() -> Iterator[object]:
    for case in CASES:
        for backend in ("sqlite", "postgresql") if case.both else ("sqlite",):
            yield pytest.param(case, backend, id=f"{case.id} [{backend}]")


def _assert_clean(ran: Ran, code: int) -> None:
    assert ran.code == code, str(ran)
    assert "Traceback" not in ran.output, str(ran)
    if code not in (0, 1):
        assert ran.err.strip(), f"exit {code} without a word on stderr\n{ran}"
        if not ran.err.startswith("The binder has"):  # a binder's problems: one line each
            assert ran.err.count("\n") == 1, f"more than one line on stderr\n{ran}"


@pytest.mark.parametrize(("case", "backend"), list(_params()), indirect=["backend"])
def test_it_exits_with_the_status_of_the_readme_table(case: Case, world: World) -> None:
    if case.prepare is not None:
        case.prepare(world)
    ran = run_cli(world.args(case.line), world.env)
    _assert_clean(ran, case.code)
    assert case.expect in ran.output, str(ran)


def test_it_covers_every_command_of_the_app() -> None:
    """A new command without a success and a failure case here (or a named test) fails."""
    succeeds: dict[str, set[bool]] = {}
    for case in CASES:
        succeeds.setdefault(_command_of(case.line), set()).add(case.code == 0)
    for name, where in ELSEWHERE.items():
        module, test = where.split(".")
        assert hasattr(importlib.import_module(f"tests.cli.{module}"), test), f"{name}: {where}?"
        succeeds.setdefault(name, set()).add(True)
    missing = [name for name, _ in commands() if succeeds.get(name) != {True, False}]
    assert not missing, f"commands without a success and a failure case: {missing}"
