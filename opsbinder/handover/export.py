"""`opsbinder binder export`: one self-contained folder a successor can read offline and import.

The folder is written next to its destination and moved into place at the end, so a failed
export never leaves half a binder behind. Secrets cannot be in it by construction (the binder
only names variables), and as a second guard every written file is scrubbed of the values of
the variables the binder names, in case one slipped into a run's reason or a metric.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from opsbinder import audit, audit_anchor, environment, housekeeping
from opsbinder.clock import Clock
from opsbinder.errors import Refused
from opsbinder.evidence import monthly
from opsbinder.handover import calendar_view, oncall_view, run_log, site
from opsbinder.handover.binder_yaml import write_yaml
from opsbinder.handover.completeness import assess
from opsbinder.handover.day_one import gather_day_one
from opsbinder.handover.dossier import Dossier, Resolver, gather
from opsbinder.handover.oncall_view import Segment
from opsbinder.redaction import Redactor, names_in
from opsbinder.settings import get_settings

SHIFT_WINDOW = timedelta(days=28)
MARKER = ".opsbinder-export"  # in every export: `--replace` replaces only a folder holding it


@dataclass(frozen=True)
class ExportResult:
    folder: Path
    files: list[Path]
    score: int
    findings: int


def _shifts(dossier: Dossier) -> tuple[dict[str, list[Segment] | None], str]:
    now = dossier.generated_at
    out: dict[str, list[Segment] | None] = {}
    error = ""
    for schedule in dossier.binder.oncall_schedules:
        try:
            out[schedule.id] = oncall_view.segments(schedule, now, now + SHIFT_WINDOW)
        except (ImportError, AttributeError) as exc:  # the on-call module is not installed
            out[schedule.id], error = None, str(exc)
    return out, error


def _entrypoints(dossier: Dossier) -> dict[str, object]:
    return {
        "client": dossier.client.id,
        "how_to_deploy": "opsbinder binder import <folder>; then opsbinder deploy (Prefect "
        "server and work pool) or opsbinder serve (one process)",
        "procedures": [
            {
                "procedure": p.config.id,
                "kind": p.config.kind,
                "flow_entrypoint": p.entrypoint or None,
                "deployment": p.deployment or None,
                "cron": p.config.schedule.cron if p.config.schedule else None,
                "timezone": p.config.schedule.timezone if p.config.schedule else None,
                "on_demand": p.config.on_demand,
                "paused": p.paused,
                "run_by_hand": p.run_by_hand,
                **(
                    {"custom_entrypoint": p.config.params.entrypoint}
                    if p.config.kind == "custom"
                    else {}
                ),
            }
            for p in dossier.procedures
        ],
        # the install's own duties: they run for every client (housekeeping keeps their run
        # history; the monthly run builds and sends their evidence packs)
        "built_in": [housekeeping.duty().as_dict(), monthly.duty()],
    }


README = """This folder is the machine-readable binder of {name} ({id}).

The YAML files are the binder as the outgoing install ran it (regenerated from its store).
entrypoints.json (not YAML, so the loader skips it) lists each procedure's Prefect flow entrypoint and deployment name.

To take it over on your own install:

    export OPSBINDER_DATABASE_URL=postgresql+psycopg2://...   # your store
    opsbinder binder import {folder}
    opsbinder deploy        # or: opsbinder serve

Or first as a shadow: every procedure a dry run (nothing deleted, nobody paged) until you go
live, compared with the outgoing provider's real runs (runs.json, next to this folder, holds
them; compare with a fresh export of theirs):

    opsbinder binder import {folder} --shadow --until YYYY-MM-DD
    opsbinder binder shadow-report FRESH-EXPORT
    opsbinder binder shadow-end --client {id}

Secrets are not here: set the environment variables the systems and channels name.
"""


def _prepare_target(out: Path, replace: bool) -> Path:
    """A staging folder next to `out`, after checking that `out` may be written: new, empty,
    or (with `replace`) an earlier export, never any other folder a mistyped path names."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not replace:
            raise Refused(
                f"{out} already exists and is not empty; choose a new folder or pass --replace"
            )
        if not (out / MARKER).is_file():
            raise Refused(
                f"{out} is not an opsbinder export (it has no {MARKER}); --replace only "
                "replaces a folder written by binder export"
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))


def _swap_in(staging: Path, out: Path) -> None:
    """Put the new export in place; an old one is moved aside first and removed last, so
    there is never a moment without a whole export at `out`."""
    if not out.exists():
        staging.rename(out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
    out.rename(old / out.name)
    staging.rename(out)
    shutil.rmtree(old)


def export_client(
    session: Session,
    client_id: str,
    out: Path,
    clock: Clock,
    *,
    actor: str,
    resolve: Resolver | None = None,
    environ: Mapping[str, str] | None = None,
    replace: bool = False,
) -> ExportResult:
    """Write the handover folder for one client to `out` and record the export in the audit log."""
    out = Path(out).resolve()
    environ = environment.variables(environ)
    audit.record(
        session,
        clock,
        actor=actor,
        action="binder.exported",
        object_type="client",
        object_id=client_id,
        client_id=client_id,
        details={"folder": str(out)},
    )
    dossier = gather(session, client_id, clock, resolve)
    completeness = assess(session, dossier)
    day = gather_day_one(session, dossier)
    cal = calendar_view.view(dossier.binder, dossier.generated_at)
    redact = site_redactor(dossier, environ)
    staging = _prepare_target(out, replace)
    files: list[Path] = []

    def write(path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(redact(text), encoding="utf-8")
        files.append(path)

    try:
        shifts, shift_error = _shifts(dossier)
        site.render(
            dossier,
            completeness,
            day=day,
            cal=cal,
            shifts=shifts,
            shift_error=shift_error,
            folder_hint=out.name,
            write=write,
            out=staging,
        )
        write(staging / "assets" / "binder.css", site.css())
        for path in write_yaml(dossier.binder, staging / "binder"):
            write(path, path.read_text(encoding="utf-8"))
        write(
            staging / "binder" / "entrypoints.json",
            json.dumps(_entrypoints(dossier), indent=2, ensure_ascii=False) + "\n",
        )
        write(
            staging / "binder" / "README.txt",
            README.format(name=dossier.client.name, id=client_id, folder=out.name),
        )
        log = run_log.document(session, client_id, dossier.generated_at)
        write(staging / run_log.FILE, json.dumps(log, indent=1, ensure_ascii=False) + "\n")
        write(
            staging / "audit-anchor.json",
            json.dumps(_anchor_view(client_id), indent=2, sort_keys=True) + "\n",
        )
        manifest = {
            "client": client_id,
            "generated_at": dossier.generated_at.isoformat(),
            "completeness_score": completeness.score,
            "files": {
                str(p.relative_to(staging)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(set(files))
            },
        }
        (staging / "MANIFEST.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        marker = {"client": client_id, "generated_at": manifest["generated_at"]}
        (staging / MARKER).write_text(json.dumps(marker) + "\n", encoding="utf-8")
        _swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    final = [out / p.relative_to(staging) for p in sorted(set(files))]
    return ExportResult(out, final, completeness.score, len(completeness.findings))


def _anchor_view(client_id: str) -> dict[str, object]:
    """The latest audit anchor as this client may see it, so the successor holds a copy of the
    log's head that the outgoing firm cannot rewrite (`opsbinder audit verify --client ID
    --anchor audit-anchor.json` checks the log against it)."""
    settings = get_settings()
    view = audit_anchor.client_view(
        audit_anchor.sealed_of(settings), client_id, audit_anchor.anchor_key(settings)
    )
    return view or {"kind": "none", "why": "no audit anchor had been written yet"}


def site_redactor(dossier: Dossier, environ: Mapping[str, str]) -> Redactor:
    names = {name for name, _ in site.env_names(dossier.binder)}
    return Redactor(names | names_in(dossier.binder.model_dump(mode="json")), environ)
