"""One exception tree: the CLI turns any `OpsbinderError` into a clean message and exit code."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class ExitCode(IntEnum):
    """The CLI's exit status, as README.md's table documents it: scripts and cron rely on it."""

    OK = 0
    FAILURES = 1  # the work ran and found failures: a failed run, a broken chain, drift
    USAGE = 2  # bad input or usage: an unknown option, a value that does not parse
    NOT_FOUND = 3
    REFUSED = 4  # permission, a lock held, a lockdown, a state that forbids the change
    UNREACHABLE = 5  # the store or the Prefect server cannot be reached
    BUG = 70  # an unexpected internal error (EX_SOFTWARE); the traceback goes to a file
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)


class OpsbinderError(Exception):
    """A problem the user can act on; never shown with a traceback.

    Raised bare it means bad input (exit 2); subclasses name the other outcomes.
    """

    exit_code: int = ExitCode.USAGE


@dataclass(frozen=True)
class ConfigProblem:
    file: str
    line: int | None
    field: str
    value: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field = f" {self.field}:" if self.field else ""
        value = f" (value: {self.value})" if self.value is not None else ""
        return f"{where}:{field} {self.message}{value}"


class ConfigError(OpsbinderError):
    exit_code = ExitCode.USAGE

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class StoreError(OpsbinderError):
    """The store cannot be reached or is not at the expected schema."""

    exit_code = ExitCode.UNREACHABLE


class RunFailed(OpsbinderError):
    """A run ended failed for a reason it recorded and can say in one line (a stale backup, a
    sweep step that failed): an expected outcome, logged without a traceback. Flows hand it to
    Prefect as the data of a Failed state rather than raising it."""

    exit_code = ExitCode.FAILURES


class NotFound(OpsbinderError):
    exit_code = ExitCode.NOT_FOUND


class Refused(OpsbinderError):
    """A safety rule stopped an operation (plan guard, lock held, append-only record)."""

    exit_code = ExitCode.REFUSED


class BadInput(OpsbinderError):
    """A value a person typed is not acceptable; the message names the field and the value."""

    exit_code = ExitCode.USAGE


class Forbidden(Refused):
    """Who asked may not do this (role, token scope, lockdown).

    The work is undone, but the refusal itself is kept: `store.db.session_scope` rolls the work
    back and then runs `record` (an audit entry) in a transaction of its own.
    """

    def __init__(self, message: str, record: Callable[[Session], object] | None = None) -> None:
        super().__init__(message)
        self.record = record
