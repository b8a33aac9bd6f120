"""Broken copies of the example binder, and the exact problem line each must produce."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Defect:
    file: str
    old: str | None  # None: `new` is added at the end of the file
    new: str
    field: str  # the field path the report must name ("" when none)
    value: str | None  # the bad value as reported (None: nothing to show)
    line_of: str | None  # the report's line is the line of this text in the broken file
    message: str  # the explanation, word for word

    def apply(self, folder: Path) -> None:
        path = folder / self.file
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        if self.old is None:
            text += self.new
        else:
            assert self.old in text, f"the example changed: {self.old!r} not in {self.file}"
            text = text.replace(self.old, self.new, 1)
        path.write_text(text, encoding="utf-8")

    def expected(self, folder: Path) -> str:
        """The problem line, as `file:line: field: message (value: ...)`."""
        where = str(folder / self.file)
        if self.line_of is not None:
            where += f":{line_of(folder / self.file, self.line_of)}"
        field = f" {self.field}:" if self.field else ""
        value = f" (value: {self.value})" if self.value is not None else ""
        return f"{where}:{field} {self.message}{value}"


def broken_copy(example_dir: Path, tmp_path: Path, *defects: Defect) -> Path:
    folder = tmp_path / "binder"
    shutil.copytree(example_dir, folder)
    for defect in defects:
        defect.apply(folder)
    return folder


def line_of(path: Path, needle: str) -> int:
    text = path.read_text(encoding="utf-8")
    assert needle in text, needle
    return text[: text.index(needle)].count("\n") + 1


def problem_lines(output: str) -> list[str]:
    """The one-line problems listed under "The binder has N problem(s):"."""
    return [line.strip() for line in output.splitlines() if line.startswith("  ")]
