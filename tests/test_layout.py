"""One door to Prefect: only `opsbinder/orchestrator/` may reach `prefect`, `flows`, `tasks` or
`deployments`; the rest of the core stays plain Python, testable without Prefect.

The walk reads every module's syntax tree, so imports inside functions count, and so do the
ways around an import statement: `importlib.import_module("flows...")`, `__import__`,
`find_spec`, and Python code handed to a subprocess as a string.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "opsbinder"
DOOR = CORE / "orchestrator"
FORBIDDEN = ("prefect", "flows", "tasks", "deployments")
_DYNAMIC = {"import_module", "__import__", "find_spec"}
_IN_CODE = re.compile(rf"\b(?:from|import)\s+(?:{'|'.join(FORBIDDEN)})\b")


def _forbidden(module: str | None) -> bool:
    return bool(module) and str(module).split(".")[0] in FORBIDDEN


def _callee(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def reaches(source: str) -> Iterator[tuple[int, str]]:
    """(line, what) for every way the source reaches a forbidden package."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _forbidden(alias.name):
                    yield node.lineno, f"import {alias.name}"
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and _forbidden(node.module):
            yield node.lineno, f"from {node.module} import ..."
        elif isinstance(node, ast.Call) and _callee(node) in _DYNAMIC and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and _forbidden(str(first.value)):
                yield node.lineno, f"{_callee(node)}({first.value!r})"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found = _IN_CODE.search(node.value)
            if found:
                yield node.lineno, f"code in a string: {found.group(0)!r}"


def test_it_finds_every_way_of_reaching_prefect_it_is_meant_to_catch() -> None:
    source = """
import prefect
from flows.catalog import run_now
def later():
    import tasks.procedures
    from deployments import build
    importlib.import_module("flows.sweepers")
    __import__("prefect.states")
    importlib.util.find_spec("flows.catalog")
    subprocess.run([sys.executable, "-c", "from flows.catalog import run_now; run_now()"])
from opsbinder import flows_of_work  # a name that only starts like one
from . import tasks  # relative: opsbinder's own
"""
    assert [line for line, _ in reaches(source)] == [2, 3, 5, 6, 7, 8, 9, 10]


def test_it_keeps_prefect_flows_tasks_and_deployments_behind_the_orchestrator() -> None:
    modules = [p for p in CORE.rglob("*.py") if DOOR not in p.parents]
    assert len(modules) > 50  # the walk really sees the core
    found = [
        f"{path.relative_to(CORE.parent)}:{line}: {what}"
        for path in sorted(modules)
        for line, what in reaches(path.read_text())
    ]
    assert found == [], "only opsbinder/orchestrator/ may do this:\n" + "\n".join(found)
