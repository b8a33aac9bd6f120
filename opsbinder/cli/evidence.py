"""`opsbinder evidence`: a client's month as an evidence pack for them and their auditor."""

from __future__ import annotations

from pathlib import Path

import typer

from opsbinder.cli import common
from opsbinder.store.db import session_scope


def register(app: typer.Typer) -> None:
    app.command("evidence")(evidence)


def evidence(
    client: str = typer.Option(..., "--client", help="the client"),
    month: str = typer.Option(..., "--month", help="the month, e.g. 2026-11"),
    output: Path = typer.Option(..., "--output", "-o", help="folder to write the pack into"),
    pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="print evidence.pdf with Chromium"),
) -> None:
    """Runs, sign-offs, backups, retention, incidents and SLA, binder changes, audit anchor:
    evidence.json, evidence.html, evidence.pdf and a SHA-256 manifest."""
    from opsbinder.evidence.files import write_pack
    from opsbinder.evidence.pack import gather
    from opsbinder.reports.report import Month

    period = Month.parse(month)
    with session_scope(common.store()) as session:
        pack = gather(session, client, period)
    written = write_pack(pack, output, pdf=pdf)
    for path in written:
        common.console.print(str(path), markup=False, highlight=False)
