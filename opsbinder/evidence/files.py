"""The pack on disk: evidence.json (every figure), evidence.html, evidence.pdf (the HTML printed
by headless Chromium) and manifest.sha256 (sha256sum's format, so `sha256sum -c` checks it)
plus manifest.json carrying the same hashes and the audit anchor at month end.

Files are written under a temporary name and renamed, so a pack is never left half-written
under its real name.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from opsbinder.errors import OpsbinderError

CHROMIUM = ("/usr/bin/chromium", "chromium", "chromium-browser")
PDF_SECONDS = 120
_env = Environment(
    loader=PackageLoader("opsbinder.evidence", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
)


class PdfFailed(OpsbinderError):
    """Chromium is missing or could not print the pack."""

    exit_code = 1


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _chromium() -> str:
    for name in CHROMIUM:
        found = shutil.which(name)
        if found:
            return found
    raise PdfFailed("no Chromium to print the PDF with; install it (make browser) or use --no-pdf")


def print_pdf(html: Path, pdf: Path) -> None:
    with tempfile.TemporaryDirectory() as profile:
        command = [
            _chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
            f"--user-data-dir={profile}", f"--print-to-pdf={pdf}", html.resolve().as_uri(),
        ]  # fmt: skip
        try:
            done = subprocess.run(command, capture_output=True, timeout=PDF_SECONDS, check=False)
        except subprocess.TimeoutExpired:
            raise PdfFailed(f"Chromium did not print the PDF within {PDF_SECONDS} s") from None
    if done.returncode != 0 or not pdf.exists() or pdf.read_bytes()[:5] != b"%PDF-":
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise PdfFailed(f"Chromium could not print the PDF: {tail[0]}")


def write_pack(pack: dict[str, Any], out: Path, *, pdf: bool = True) -> list[Path]:
    """Write the pack's files into `out`; returns them, manifest last."""
    out.mkdir(parents=True, exist_ok=True)
    data = json.dumps(pack, indent=2, sort_keys=True, default=str).encode()
    html = _env.get_template("evidence.html.j2").render(p=pack, pct=_pct).encode()
    files = [out / "evidence.json", out / "evidence.html"]
    _write(files[0], data)
    _write(files[1], html)
    if pdf:
        target = out / "evidence.pdf"
        print_pdf(files[1], target)
        files.append(target)
    hashes = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in files}
    manifest = {
        "client": pack["client"]["id"],
        "month": pack["month"],
        "files": hashes,
        "audit": pack["audit"],
    }
    manifest_json = out / "manifest.json"
    _write(manifest_json, json.dumps(manifest, indent=2, sort_keys=True).encode())
    hashes[manifest_json.name] = hashlib.sha256(manifest_json.read_bytes()).hexdigest()
    lines = "".join(f"{digest}  {name}\n" for name, digest in sorted(hashes.items()))
    _write(out / "manifest.sha256", lines.encode())
    return [*files, manifest_json, out / "manifest.sha256"]
