"""`opsbinder archive restore`: bring archived rows back, the rollback every archive runbook names."""

from __future__ import annotations

from pathlib import Path

import typer
from sqlalchemy import create_engine

from opsbinder import audit, environment
from opsbinder.authorization import Action, Target, authorize
from opsbinder.cli import common
from opsbinder.config.models import ArchiveProcedure, DatabaseSystem
from opsbinder.errors import OpsbinderError
from opsbinder.procedures import archive, archive_restore
from opsbinder.procedures import archive_files as files
from opsbinder.procedures import archive_layout as layout
from opsbinder.procedures.context import ProcedureContext
from opsbinder.store.db import session_scope

archive_app = typer.Typer(help="Archives written by archive procedures.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(archive_app, name="archive")


@archive_app.command("restore")
def restore(
    source: str = typer.Argument(
        ..., help="an archive procedure (id or client/id), or a folder of archive manifests"
    ),
    into: str = typer.Option(..., "--into", help="table to insert into (schema.table allowed)"),
    client: str | None = typer.Option(None, "--client", help="client of the procedure"),
    config: Path | None = common.ConfigDirOption,
    url_env: str | None = typer.Option(
        None,
        "--url-env",
        help="environment variable with the target database URL (default: the procedure's system)",
    ),
    admin: str | None = common.AdminOption,
) -> None:
    """Verify every archive file against its manifest (sha256), then insert its rows into
    TABLE, skipping keys already there: safe to repeat."""
    manifests, client_id, procedure_id, system_env = _resolve(source, client, config, url_env)
    who, clock = common.principal(admin), common.clock()
    with session_scope(common.store()) as session:  # writes into the client's database
        authorize(session, clock, who, Action.RESTORE_ARCHIVE, Target.client(client_id))
    url = environment.secret(url_env or system_env or "", "the target database URL (--url-env)")
    folders = sorted({str(m.path.parent) for m in manifests})
    engine = create_engine(url)
    try:
        table = archive_restore.into_table(engine, into)
        done = archive_restore.restore(engine, table, manifests)
    finally:
        engine.dispose()
    with session_scope(common.store()) as session:
        audit.record(
            session,
            clock,
            actor=who.actor,
            action="archive.restore",
            object_type="procedure",
            object_id=f"{client_id}/{procedure_id}",
            client_id=client_id,
            details={
                "into": into,
                "folder": ", ".join(folders),
                "manifests": done.manifests,
                "rows_restored": done.rows_restored,
                "rows_skipped": done.rows_skipped,
                "partitions_created": done.partitions_created,
            },
        )
    common.console.print(
        f"restored {done.rows_restored:,} rows into {into} from {done.manifests} archive files "
        f"({done.rows_skipped:,} already there, skipped)"
        + (
            f"; created the dropped partitions {', '.join(done.partitions_created)} again"
            if done.partitions_created
            else ""
        )
    )


def _resolve(
    source: str, client: str | None, config: Path | None, url_env: str | None
) -> tuple[list[files.Manifest], str, str, str | None]:
    """The manifests, client id, procedure id and URL variable named by SOURCE."""
    folder = Path(source)
    given: list[files.Manifest] = []
    if folder.is_dir():
        given = archive_restore.manifests_of(folder)
        client_id = given[0].body.get("client", "")
        procedure_id = given[0].body.get("procedure", "")
        if url_env:
            return given, client_id, procedure_id, url_env
        source = f"{client or client_id}/{procedure_id}"
    elif client and "/" not in source:
        source = f"{client}/{source}"
    client_binder, proc = common.binder_procedure(config, source)
    source = f"{client_binder.client.id}/{proc.id}"
    if not isinstance(proc, ArchiveProcedure):
        raise OpsbinderError(f"{source} is a {proc.kind} procedure, not an archive")
    if proc.params.destination_type == "table":
        raise OpsbinderError(
            f"{source} archives to the table {proc.params.destination}; restore with "
            "INSERT ... SELECT from that table"
        )
    system = client_binder.system(proc.system) if proc.system else None
    system_env = system.url_env if isinstance(system, DatabaseSystem) else None
    if not given:
        ctx = ProcedureContext(
            client_id=client_binder.client.id,
            procedure_id=proc.id,
            clock=common.clock(),
            store=None,  # type: ignore[arg-type]  # only expand() is used
        )
        legacy = layout.legacy_folder(archive.destination(ctx, proc), proc.id)
        given = archive_restore.manifests_for(
            [archive.folder_for(ctx, proc), legacy], client_binder.client.id, proc.id
        )
    return given, client_binder.client.id, proc.id, url_env or system_env
