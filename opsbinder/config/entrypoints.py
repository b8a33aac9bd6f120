"""Does a custom procedure's `module.path:function` exist? Found without running any of it.

Importing a module runs its code, and validate must not run a binder's code. So the module is
looked up the way Python would import it (finders, without loading), and its source is parsed
to find the function: defined there, or bound by an import or an assignment.
"""

from __future__ import annotations

import ast
import os
import sys
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path

MAX_SOURCE_BYTES = 5 * 1024 * 1024


def entrypoint_problem(entrypoint: str) -> str | None:
    """Why `module.path:function` cannot be called, or None when it can (or cannot be told)."""
    module, _, function = entrypoint.partition(":")
    spec, missing = _find(module)
    if spec is None:
        return (
            f"no module named {missing!r} on this machine's Python path "
            "(sys.path and the current folder)"
        )
    origin = spec.origin
    if origin is None or not origin.endswith(".py"):
        if spec.submodule_search_locations is not None and origin is None:
            return f"{module} is a folder without Python code, not a module"
        return None  # a compiled or built-in module: nothing to read
    return _function_problem(module, Path(origin), function)


def _find(module: str) -> tuple[ModuleSpec | None, str]:
    """The module's spec, found level by level without importing the packages above it."""
    loaded = sys.modules.get(module)
    if loaded is not None and loaded.__spec__ is not None:
        return loaded.__spec__, module  # already imported (os.path is posixpath): no search
    search: list[str] | None = None
    spec: ModuleSpec | None = None
    parts = module.split(".")
    for depth in range(len(parts)):
        name = ".".join(parts[: depth + 1])
        spec = _find_one(name, search)
        if spec is None:
            return None, name
        if depth < len(parts) - 1:
            if spec.submodule_search_locations is None:
                return None, ".".join(parts[: depth + 2])
            search = list(spec.submodule_search_locations)
    return spec, module


def _find_one(name: str, search: list[str] | None) -> ModuleSpec | None:
    loaded = sys.modules.get(name)
    if loaded is not None and loaded.__spec__ is not None:
        return loaded.__spec__
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is None:
            continue
        spec = find_spec(name, search)
        if isinstance(spec, ModuleSpec):
            return spec
    if search is None:  # a console script's path lacks the current folder; a worker's has it
        return PathFinder.find_spec(name, [os.getcwd()])
    return None


def _function_problem(module: str, origin: Path, function: str) -> str | None:
    try:
        if origin.stat().st_size > MAX_SOURCE_BYTES:
            return None
        tree = ast.parse(origin.read_bytes(), filename=str(origin))
    except SyntaxError as exc:
        return f"module {module} ({origin}) does not parse: {exc.msg} (line {exc.lineno})"
    except (OSError, ValueError):
        return None
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            if any(alias.name == "*" for alias in node.names):
                return None  # a star import may bring it: cannot be told without running it
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    if function in names or "__getattr__" in names:
        return None
    return f"module {module} ({origin}) has no function {function!r}"
