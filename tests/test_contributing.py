"""CONTRIBUTING.md's map of concepts to modules must name paths that exist: a map that points at
a file renamed away sends the next engineer looking for nothing."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_PATH = re.compile(r"`([\w./-]+)`")


def table_rows(markdown: str) -> list[tuple[str, str]]:
    """(concept, module cell) of every row of the table under '## Where things live'."""
    section = markdown.split("## Where things live", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or cells[0] in ("concept", "---"):
            continue
        rows.append((cells[0], cells[1]))
    return rows


def test_it_reads_every_row_and_path_of_a_table() -> None:
    text = (
        "## Where things live\n\n| concept | module |\n| --- | --- |\n"
        "| a | `x/y.py`, `z/` |\n| b | not yet (issue 1) |\n\n## Next\n| c | `q.py` |\n"
    )
    assert table_rows(text) == [("a", "`x/y.py`, `z/`"), ("b", "not yet (issue 1)")]
    assert _PATH.findall(table_rows(text)[0][1]) == ["x/y.py", "z/"]


def test_every_path_contributing_names_exists() -> None:
    rows = table_rows((ROOT / "CONTRIBUTING.md").read_text())
    assert len(rows) > 30
    missing = [
        f"{concept}: {path}"
        for concept, cell in rows
        for path in _PATH.findall(cell)
        if not (ROOT / path).exists()
    ]
    assert missing == []
    unmapped = [
        concept for concept, cell in rows if not _PATH.findall(cell) and "not yet" not in cell
    ]
    assert unmapped == []


def test_every_package_of_the_core_is_on_the_map() -> None:
    named = {
        path
        for _, cell in table_rows((ROOT / "CONTRIBUTING.md").read_text())
        for path in _PATH.findall(cell)
    }
    packages = sorted(p.parent for p in (ROOT / "opsbinder").glob("*/__init__.py"))
    assert len(packages) > 8
    unnamed = [
        str(p.relative_to(ROOT))
        for p in packages
        if not any(
            n.rstrip("/") == str(p.relative_to(ROOT)) or n.startswith(f"{p.relative_to(ROOT)}/")
            for n in named
        )
    ]
    assert unnamed == []
