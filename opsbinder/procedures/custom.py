"""Custom procedure: a Python function named in the binder (`module.path:function`).

It is called as `function(ctx, **arguments)` and returns a ProcedureResult, or a dict that
becomes the metrics of an ok result. Anything else, or an import that fails, is a failed run
with a reason that names the entrypoint.
"""

from __future__ import annotations

import importlib
from typing import Any

from opsbinder.config.models import CustomProcedure
from opsbinder.procedures.context import ProcedureContext
from opsbinder.procedures.result import ProcedureResult


def run(ctx: ProcedureContext, proc: CustomProcedure, system: object = None) -> ProcedureResult:
    entrypoint = proc.params.entrypoint
    module_name, _, attr = entrypoint.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        return _fail(f"entrypoint {entrypoint}: cannot import {module_name} ({exc})")
    function = getattr(module, attr, None)
    if not callable(function):
        return _fail(f"entrypoint {entrypoint}: {module_name} has no function {attr!r}")
    returned: Any = function(ctx, **proc.params.arguments)
    if isinstance(returned, ProcedureResult):
        return returned
    if isinstance(returned, dict):
        return ProcedureResult("ok", f"{entrypoint} ok", dict(returned))
    return _fail(
        f"entrypoint {entrypoint} returned {type(returned).__name__}; "
        "expected a ProcedureResult or a dict of metrics"
    )


def _fail(reason: str) -> ProcedureResult:
    return ProcedureResult("failed", reason, {}, [reason])
