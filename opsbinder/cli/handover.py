"""`opsbinder binder export|audit|diff|verify|import|shadow-report|shadow-end` and
`opsbinder lockdown`: the handover."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from opsbinder.cli import common
from opsbinder.settings import get_settings
from opsbinder.store.db import session_scope

if TYPE_CHECKING:
    from opsbinder.handover.completeness import Completeness


def _say(text: str) -> None:
    """Plain lines, never wrapped: people copy commands and paths out of them."""
    common.console.print(text, soft_wrap=True, markup=False)


def _procedure_deployment(kind: str, client_id: str, key: str) -> tuple[str, str]:
    """Flow entrypoint and deployment name as `opsbinder deploy` makes them (Prefect side)."""
    from opsbinder.orchestrator.deployments import procedure_deployment

    return procedure_deployment(kind, client_id, key)


binder_app = typer.Typer(
    help="The handover binder: export, completeness audit, verification, import.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(binder_app, name="binder")
    app.command("lockdown")(lockdown)


def _export(client: str, out: Path, replace: bool) -> None:
    from opsbinder.handover.export import export_client

    with session_scope(common.store()) as session:
        result = export_client(
            session,
            client,
            out,
            common.clock(),
            actor=common.actor(),
            resolve=_procedure_deployment,
            replace=replace,
        )
    _say(
        f"binder of {client} written to {result.folder} ({len(result.files)} files); "
        f"open {result.folder / 'index.html'}"
    )
    _say(f"completeness {result.score}/100, {result.findings} finding(s)")


@binder_app.command("export")
def export(
    out: Path = typer.Argument(..., help="folder to write (must be new or empty)"),
    client: str = typer.Option(..., "--client", help="client id"),
    replace: bool = typer.Option(
        False, "--replace", help="replace an earlier export (any other folder is refused)"
    ),
) -> None:
    """Write the client's self-contained, offline handover folder."""
    _export(client, out, replace)


@binder_app.command("audit")
def audit_cmd(
    client: str = typer.Option(..., "--client", help="client id"),
    min_score: int = typer.Option(0, "--min-score", min=0, max=100, help="exit 1 below this"),
    as_json: bool = common.JsonOption,
) -> None:
    """Score the binder's completeness by its parts and list what is missing, worst first."""
    from opsbinder.handover.completeness import audit_client

    with session_scope(common.store()) as session:
        report = audit_client(session, client, common.clock())
    if as_json:
        common.print_json(report.as_dict())
    else:
        _print_audit(client, report)
    if report.score < min_score:
        raise typer.Exit(1)


def _print_audit(client: str, report: Completeness) -> None:
    _say(
        f"completeness of {client}: {report.score}/100 ({report.checks} checks, "
        f"{len(report.findings)} finding(s))"
    )
    for tally in report.parts.values():
        part = tally.part
        if not tally.checks:
            _say(f"  {part.points:>3} points  {part.title}: no checks apply, none lost")
            continue
        _say(
            f"  {part.points:>3} points  {part.title}: {tally.lost} lost "
            f"({tally.findings} of {tally.checks} checks failed)"
        )
    for finding in report.worst_first():
        _say(f"  [{finding.code}] {finding.message}")
        _say(f"      fix in {finding.where}")
    if report.verification:
        counts = Counter(report.verification.values())
        _say(
            "third-party verification: " + ", ".join(f"{n} {w}" for w, n in sorted(counts.items()))
        )


@binder_app.command("diff")
def diff_cmd(
    old: Path = typer.Argument(..., help="the earlier export folder"),
    new: Path = typer.Argument(..., help="the later export folder"),
    as_json: bool = common.JsonOption,
) -> None:
    """What changed between two exports of a client; exit 1 when anything did."""
    from opsbinder.handover.binder_diff import diff_exports, lines

    changes = diff_exports(old, new)
    if as_json:
        common.print_json([c.as_dict() for c in changes])
    else:
        for line in lines(changes):
            _say(line)
        _say(f"{len(changes)} change(s) between {old} and {new}" if changes else "no changes")
    if changes:
        raise typer.Exit(1)


@binder_app.command("verify")
def verify(
    client: str = typer.Option(..., "--client", help="client id"),
    admin: str | None = common.AdminOption,
) -> None:
    """Dry-run every procedure against the live systems; record one verification run each."""
    from opsbinder.actions.procedures import verify_client

    who = common.principal(admin)
    verdicts = verify_client(common.store(), common.clock(), who, client)
    for v in verdicts:
        mark = {"passed": "PASSED", "failed": "FAILED", "not_verifiable": "NOT VERIFIABLE"}
        _say(f"{mark[v.verdict]:15} {v.procedure}: {v.reason}")
    failed = sum(v.verdict == "failed" for v in verdicts)
    _say(
        f"{len(verdicts)} procedure(s): {sum(v.verdict == 'passed' for v in verdicts)} passed, "
        f"{failed} failed, {sum(v.verdict == 'not_verifiable' for v in verdicts)} not verifiable"
    )
    if failed:
        raise typer.Exit(1)


def _until(shadow: bool, until: str | None) -> date | None:
    """The last day of a shadow; --shadow and --until come together or not at all."""
    from opsbinder.errors import BadInput

    if until is None:
        if shadow:
            raise BadInput("--shadow needs --until YYYY-MM-DD: the last day of the shadow run")
        return None
    if not shadow:
        raise BadInput(f"--until {until}: only with --shadow")
    try:
        return date.fromisoformat(until)
    except ValueError:
        raise BadInput(f"--until {until!r}: expected a date as YYYY-MM-DD") from None


@binder_app.command("import")
def import_cmd(
    folder: Path = typer.Argument(..., help="an export folder (or a binder folder)"),
    shadow: bool = typer.Option(
        False, "--shadow", help="every procedure a dry run until the successor goes live"
    ),
    until: str | None = typer.Option(
        None, "--until", help="with --shadow: its last day, YYYY-MM-DD in the client's zone"
    ),
) -> None:
    """Load an exported binder into this install's store (OPSBINDER_DATABASE_URL)."""
    from opsbinder.handover.importer import import_binder

    last_day = _until(shadow, until)
    with session_scope(common.store()) as session:
        result = import_binder(
            session, folder, common.clock(), actor=common.actor(), shadow_until=last_day
        )
    report = result.report
    _say(
        f"imported {', '.join(result.clients)} from {result.folder}: "
        f"{len(report.created)} created, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {len(report.removed)} removed"
    )
    _say("to run them here:")
    _say("  opsbinder deploy --work-pool POOL   # a Prefect server with workers")
    _say("  opsbinder serve                     # or everything in one process")
    for client_id in result.clients:
        _say(
            f"  opsbinder binder verify --client {client_id}   # dry-run each against your systems"
        )
    for client_id, why in result.shadows.items():
        _say(f"{client_id} is a SHADOW: {why}")
        _say("  opsbinder binder shadow-report EXPORT   # compare with a fresh export of theirs")
        _say(f"  opsbinder binder shadow-end --client {client_id}   # go live")


@binder_app.command("shadow-report")
def shadow_report_cmd(
    export_dir: Path = typer.Argument(..., help="a fresh export of the outgoing provider"),
    tolerance: float = typer.Option(
        10.0, "--tolerance", min=0, help="rows may differ by this percent of the larger count"
    ),
    as_json: bool = typer.Option(False, "--json", help="a JSON object on stdout, for scripts"),
) -> None:
    """Compare each shadow run with the outgoing provider's real run of the same slot; exit 1
    when any differs."""
    from opsbinder.handover import run_log
    from opsbinder.handover.shadow_report import compare

    log = run_log.read(export_dir)
    with session_scope(common.store()) as session:
        report = compare(session, log, common.clock(), tolerance=tolerance)
    if as_json:
        common.print_json(report.as_dict())
    else:
        _say(
            f"shadow run of {report.client} from {report.start:%Y-%m-%d %H:%M} to "
            f"{report.end:%Y-%m-%d %H:%M} UTC against {export_dir} "
            f"(rows within {report.tolerance:g}%)"
        )
        for p in report.procedures:
            _say(f"  {p.procedure}: {p.compared} slot(s), {p.agreed} agree")
            for d in p.differences:
                _say(f"    DIFFERS {d.text}")
        found = len(report.differences)
        if not report.procedures:
            _say("no scheduled run on either side in this period: nothing to compare yet")
        else:
            _say(f"{found} difference(s)" if found else "all compared runs agree")
        _say(f"status: {report.status}")
    if report.differences:
        raise typer.Exit(1)


@binder_app.command("shadow-end")
def shadow_end_cmd(client: str = typer.Option(..., "--client", help="client id")) -> None:
    """Go live: the client's procedures do real work from their next run."""
    from opsbinder import shadow

    with session_scope(common.store()) as session:
        period = shadow.end(session, common.clock(), client, actor=common.actor())
        until = period.until
    _say(f"{client} is LIVE: its shadow (planned until {until.isoformat()}) ended")
    _say("its procedures delete, move and page for real from their next run")


def _server_pause(client: str) -> None:
    """Follow the store's pause on a Prefect server, as `opsbinder pause` does."""
    from opsbinder.orchestrator import deployments as orch

    changes = orch.follow_pauses(common.store(), client)
    if changes is None:
        _say(
            "no Prefect server running here: scheduled runs check Client.paused, "
            "so this holds from the next run"
        )
        return
    for word, name in changes:
        _say(f"  {word} on the server: {name}")


def lockdown(
    client: str = typer.Option(..., "--client", help="client id"),
    lift: bool = typer.Option(False, "--lift", help="reverse the lockdown (an admin, --admin)"),
    provider: str = typer.Option("msp", "--provider", help="the outgoing provider"),
    out: Path | None = typer.Option(None, "--out", help="export folder (default under home)"),
    actor: str | None = typer.Option(
        None, "--actor", help="who locks it down, for the record (default $OPSBINDER_ACTOR)"
    ),
    admin: str | None = common.AdminOption,
) -> None:
    """Immediate lockdown: pause, revoke the provider's tokens, start the checklist, export.

    Anyone may pull the brake; only an admin, proven with --admin USER, may release it.
    """
    from opsbinder.authorization import Principal
    from opsbinder.handover import lockdown as lk

    who = common.principal(admin) if admin or lift else Principal.operator(actor or common.actor())
    clock = common.clock()
    if lift:
        with session_scope(common.store()) as session:
            resumed = lk.lift(session, client, clock, principal=who)
        _say(
            f"lockdown of {client} lifted by {who.actor}; "
            + ("its deployments are resumed" if resumed else "it was paused before: stays paused")
        )
        if resumed:
            _server_pause(client)
        _say("revoked tokens stay revoked: issue new ones (opsbinder users token ...)")
        return
    with session_scope(common.store()) as session:
        result = lk.lock_down(session, client, clock, principal=who, provider=provider)
    _say(f"{client} LOCKED DOWN by {who.actor}")
    _say(f"  paused: {'yes' if result.paused_now else 'was already paused'} (Client.paused)")
    _server_pause(client)
    _say(f"  tokens revoked ({provider}): {len(result.revoked)}")
    if result.checklist:
        _say(f"  lockdown checklist {result.checklist}: work item #{result.checklist_id} is due")
    for problem in result.problems:
        common.err_console.print(f"  [yellow]warning:[/yellow] {problem}")
    stamp = clock.now().strftime("%Y%m%dT%H%M%SZ")
    folder = out or get_settings().home / "exports" / f"{client}-lockdown-{stamp}"
    _export(client, folder, replace=False)
