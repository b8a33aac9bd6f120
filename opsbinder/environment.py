"""The process environment, read in one place besides `settings.py`.

opsbinder's own OPSBINDER_* settings come from `settings.get_settings()`. Everything else read
from the environment is a secret the binder names by variable (`url_env`, `secret_env`, a
system's database URL): read here, so a missing one always reads the same way, and so tests
hand in a mapping of their own instead of patching `os.environ`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opsbinder.errors import OpsbinderError


def variables(environ: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """The mapping a caller was given (tests), else this process's environment."""
    return os.environ if environ is None else environ


def secret(
    name: str,
    what: str,
    environ: Mapping[str, str] | None = None,
    error: type[OpsbinderError] = OpsbinderError,
) -> str:
    """The value of the variable `name`, which `what` names; unset or empty is an `error`.

    The message names the variable, never a value.
    """
    value = variables(environ).get(name) if name else None
    if not value:
        raise error(f"{what} names the environment variable {name or '(none)'}, which is not set")
    return value


def for_child(extra: Mapping[str, str]) -> dict[str, str]:
    """The environment of a child process: this one's plus `extra` (a password for libpq)."""
    return {**os.environ, **extra}


def export(values: Mapping[str, str], *, replace: bool = False) -> None:
    """Put variables into this process's environment, for itself and the children it starts
    (Prefect's defaults before Prefect is imported, the demo systems' URLs); a variable the
    user has set wins unless `replace`."""
    for name, value in values.items():
        if replace:
            os.environ[name] = value
        else:
            os.environ.setdefault(name, value)
