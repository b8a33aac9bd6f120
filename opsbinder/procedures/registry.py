"""Which module runs which procedure kind: the one table flows, the CLI and tests look up.

Modules are imported when first needed, so a kind whose module is missing or broken fails its
own runs with a clear message instead of breaking every other kind.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from opsbinder.errors import OpsbinderError
from opsbinder.procedures.context import ProcedureContext
from opsbinder.procedures.result import ProcedureResult

Runner = Callable[[ProcedureContext, Any, Any], ProcedureResult]

KINDS: dict[str, str] = {
    "purge": "opsbinder.procedures.purge",
    "archive": "opsbinder.procedures.archive",
    "backup_check": "opsbinder.procedures.backup_check",
    "disk_check": "opsbinder.procedures.disk_check",
    "update_reminder": "opsbinder.procedures.update_reminder",
    "manual": "opsbinder.procedures.manual",
    "custom": "opsbinder.procedures.custom",
}


def runner(kind: str) -> Runner:
    """The `run(ctx, proc, system)` function of a kind."""
    module_name = KINDS.get(kind)
    if module_name is None:
        raise OpsbinderError(f"unknown procedure kind {kind!r} (known: {', '.join(KINDS)})")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise OpsbinderError(
            f"procedure kind {kind!r} is not available in this install ({module_name} is missing)"
        ) from exc
    return module.run  # type: ignore[no-any-return]
