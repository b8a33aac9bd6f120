"""Commands of this area are added by its issue; this module registers nothing yet."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    return None
