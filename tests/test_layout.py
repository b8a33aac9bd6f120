"""One door to Prefect: only `opsbinder/orchestrator/` may reach `prefect`, `flows`, `tasks` or
`deployments`; the rest of the core stays plain Python, testable without Prefect.

The walk reads every module's syntax tree, so imports inside functions count, and so do the
ways around an import statement: `importlib.import_module("flows...")`, `__import__`,
`find_spec`, and Python code handed to a subprocess as a string.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Iterator
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "opsbinder"
DOOR = CORE / "orchestrator"
FORBIDDEN = ("prefect", "flows", "tasks", "deployments")
_DYNAMIC = {"import_module", "__import__", "find_spec"}
# Code handed over in a string sits on one line; prose ("... came from\nflows") may break anywhere.
_IN_CODE = re.compile(rf"\b(?:from|import)[ \t]+(?:{'|'.join(FORBIDDEN)})\b")


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


# --- one exception tree, one reader of the environment ------------------------------------------

PACKAGES = [CORE.parent / name for name in ("opsbinder", "flows", "tasks", "deployments")]
_BUILTIN_EXCEPTIONS = {
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
}


def _base_name(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def classes_outside_the_tree(sources: dict[str, str]) -> list[str]:
    """ "file:line: Class" for every exception class whose bases do not lead to OpsbinderError.

    A class is an exception when a base is a builtin exception, is named like one (...Error,
    ...Exception: a third party's) or is itself such a class of ours; bases are matched by name.
    """
    bases: dict[str, list[str]] = {}
    where: dict[str, str] = {}
    for file, source in sources.items():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ClassDef):
                bases[node.name] = [_base_name(b) for b in node.bases]
                where[node.name] = f"{file}:{node.lineno}: {node.name}"

    def in_tree(name: str, seen: frozenset[str] = frozenset()) -> bool:
        return name == "OpsbinderError" or any(
            b in bases and b not in seen and in_tree(b, seen | {name}) for b in bases.get(name, [])
        )

    def is_exception(name: str, seen: frozenset[str] = frozenset()) -> bool:
        return any(
            b in _BUILTIN_EXCEPTIONS
            or b.endswith(("Error", "Exception"))
            or (b in bases and b not in seen and is_exception(b, seen | {name}))
            for b in bases.get(name, [])
        )

    return sorted(where[n] for n in bases if is_exception(n) and not in_tree(n))


def _sources() -> dict[str, str]:
    return {
        str(path.relative_to(CORE.parent)): path.read_text()
        for package in PACKAGES
        for path in sorted(package.rglob("*.py"))
        if "migrations" not in path.parts
    }


def test_the_exception_check_finds_a_class_outside_the_tree() -> None:
    source = """
class OpsbinderError(Exception): ...
class Refused(OpsbinderError): ...
class Locked(Refused): ...
class Stray(ValueError): ...
class StrayToo(SQLAlchemyError): ...
class Inherited(Stray): ...
class NotAnError: ...
"""
    found = classes_outside_the_tree({"m.py": source})
    assert found == ["m.py:5: Stray", "m.py:6: StrayToo", "m.py:7: Inherited"]


def test_every_exception_class_derives_from_opsbinder_error() -> None:
    """The CLI turns an OpsbinderError into a message and its exit code, the web into an answer;
    an exception outside the tree would surface as a bug (exit 70) or a 500."""
    sources = _sources()
    assert len(sources) > 100 and any("class DeliveryError(" in s for s in sources.values())
    assert classes_outside_the_tree(sources) == []


def environment_reads(source: str) -> Iterator[tuple[int, str]]:
    """(line, what) for every use of the process environment: os.environ, os.getenv, putenv."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in {
            "environ",
            "getenv",
            "putenv",
            "environb",
        }:
            if isinstance(node.value, ast.Name) and node.value.id == "os":
                yield node.lineno, f"os.{node.attr}"
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            for alias in node.names:
                if alias.name in {"environ", "getenv", "putenv", "environb"}:
                    yield node.lineno, f"from os import {alias.name}"


def test_the_environment_check_finds_every_way_in() -> None:
    source = """
import os
from os import environ, getenv
a = os.environ.get("X")
b = os.getenv("Y")
c = options.environ  # someone else's attribute
"""
    assert sorted(line for line, _ in environment_reads(source)) == [3, 3, 4, 5]


def test_only_settings_and_environment_read_the_environment() -> None:
    """OPSBINDER_* settings through settings.py; secrets the binder names (url_env, ...) and
    variables exported for child processes through environment.py, which tests replace."""
    allowed = {"opsbinder/settings.py", "opsbinder/environment.py"}
    sources = {f: s for f, s in _sources().items() if f.startswith("opsbinder/")}
    assert any(environment_reads(sources["opsbinder/environment.py"]))  # the walk sees them
    found = [
        f"{file}:{line}: {what}"
        for file, source in sources.items()
        if file not in allowed
        for line, what in environment_reads(source)
    ]
    assert found == [], (
        "read settings via get_settings(), secrets via environment.secret():\n" + "\n".join(found)
    )


def test_no_module_outside_migrations_exceeds_400_lines() -> None:
    """Modules named for the noun they hold stay small enough to read in one sitting; a module
    that grows past 400 lines holds more than one thing and wants splitting."""
    sizes = {file: len(source.splitlines()) for file, source in _sources().items()}
    assert len(sizes) > 100 and max(sizes.values()) > 200  # the count sees real modules
    assert sorted(f"{f}: {n}" for f, n in sizes.items() if n > 400) == []
