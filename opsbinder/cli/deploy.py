"""`opsbinder serve`, `deploy`, `pause` and `resume`: the binder's schedules in Prefect."""

from __future__ import annotations

from pathlib import Path

import typer

from opsbinder.actions import procedures as actions
from opsbinder.cli import common
from opsbinder.errors import OpsbinderError
from opsbinder.orchestrator.specs import DeploymentSpec
from opsbinder.pauses import PauseTarget, find_procedure
from opsbinder.store.db import session_scope
from opsbinder.sync import sync_binder


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("deploy")(deploy)
    app.command("pause")(pause)
    app.command("resume")(resume)


def _load_if_given(path: Path | None) -> None:
    """Load the binder into the store first when there is one; otherwise use the store as is."""
    folder = common.config_dir(path)
    if path is None and not folder.is_dir():
        return
    binder = common.binder(path)
    with session_scope(common.store()) as session:
        sync_binder(session, binder, common.clock(), actor=common.actor())


def _specs() -> list[DeploymentSpec]:
    from opsbinder.orchestrator import deployments as orch

    return orch.binder_deployments(common.store())


def serve(
    path: Path | None = common.ConfigDirOption,
    limit: int | None = typer.Option(None, help="most flow runs at once"),
    port: int | None = typer.Option(
        None, help="port of the local Prefect server (when PREFECT_API_URL is unset)"
    ),
) -> None:
    """Run every schedule of the binder in this process (the embedded default).

    Without PREFECT_API_URL a local Prefect server (SQLite, 127.0.0.1) starts and stops with it.
    """
    from opsbinder.orchestrator import deployments as orch

    _load_if_given(path)
    specs = _specs()
    common.console.print(f"serving {len(specs)} deployments; Ctrl-C stops")
    orch.serve(specs, limit=limit, port=port)


def deploy(
    path: Path | None = common.ConfigDirOption,
    work_pool: str | None = typer.Option(None, "--work-pool", help="Prefect process work pool"),
    check: bool = typer.Option(False, "--check", help="only report drift; exit 1 if any"),
    prefect_yaml: Path | None = typer.Option(
        None, "--prefect-yaml", help="write a prefect.yaml for `prefect deploy` to this file"
    ),
) -> None:
    """Register the binder's deployments with the Prefect server at PREFECT_API_URL."""
    from opsbinder.orchestrator import deployments as orch
    from opsbinder.orchestrator.specs import drift

    if not (work_pool or check or prefect_yaml):
        raise OpsbinderError("give --work-pool NAME (or --check, or --prefect-yaml FILE)")
    if prefect_yaml is None:
        orch.require_server()
    _load_if_given(path)
    specs = _specs()
    if prefect_yaml is not None:
        prefect_yaml.write_text(orch.prefect_yaml(specs, work_pool=work_pool or "opsbinder"))
        common.console.print(f"wrote {prefect_yaml} ({len(specs)} deployments)")
        return
    if check:
        found = drift(specs, orch.read_ours())
        for item in found:
            common.console.print(str(item), markup=False)
        if found:
            common.err_console.print(f"{len(found)} difference(s) between binder and server")
            raise typer.Exit(1)
        common.console.print(f"no drift: {len(specs)} deployments match the binder")
        return
    assert work_pool is not None
    report = orch.apply(specs, work_pool=work_pool)
    for label, names in (
        ("created", report.created),
        ("updated", report.updated),
        ("removed", report.removed),
        ("kept paused", report.kept_paused),
    ):
        for name in names:
            common.console.print(f"{label:12} {name}", markup=False)
    common.console.print(
        f"{len(report.created)} created, {len(report.updated)} updated, "
        f"{len(report.removed)} removed, {len(report.unchanged)} unchanged "
        f"on work pool {work_pool!r}"
    )


def _target(procedure: str | None, client: str | None) -> PauseTarget:
    if procedure is None and client is None:
        raise OpsbinderError("name a PROCEDURE or give --client X")
    if procedure is None:
        return PauseTarget(client_id=str(client), procedure_key=None)
    with session_scope(common.store()) as session:
        row = find_procedure(session, procedure, client)
        return PauseTarget(client_id=row.client_id, procedure_key=row.key)


def _switch(procedure: str | None, client: str | None, paused: bool, admin: str | None) -> None:
    target = _target(procedure, client)
    who = common.principal(admin)
    with session_scope(common.store()) as session:
        changed = actions.set_paused(session, common.clock(), who, target, paused)
    word = "paused" if paused else "resumed"
    common.console.print(
        f"{target.label} {word} in the store" if changed else f"{target.label} already {word}"
    )
    from opsbinder.orchestrator import deployments as orch

    changes = orch.follow_pauses(common.store(), target.client_id, target.procedure_key)
    if changes is None:
        common.console.print(
            "no Prefect server running here: scheduled runs check the store's flag, "
            "so this holds from the next run"
        )
        return
    for word, name in changes:
        common.console.print(f"  {word} {name} on the server", markup=False)


def pause(
    procedure: str | None = typer.Argument(None, help="procedure id"),
    client: str | None = typer.Option(None, "--client", help="the client (all of it if alone)"),
    admin: str | None = common.AdminOption,
) -> None:
    """Pause a procedure, or every procedure of a client, at once: no scheduled run does its work
    until resumed, also under a running `opsbinder serve` (no restart needed)."""
    _switch(procedure, client, True, admin)


def resume(
    procedure: str | None = typer.Argument(None, help="procedure id"),
    client: str | None = typer.Option(None, "--client", help="the client (all of it if alone)"),
    admin: str | None = common.AdminOption,
) -> None:
    """Resume what `opsbinder pause` paused."""
    _switch(procedure, client, False, admin)
