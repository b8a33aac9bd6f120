"""One exception tree: the CLI turns any `OpsbinderError` into a clean message and exit code."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class OpsbinderError(Exception):
    """A problem the user can act on; never shown with a traceback."""

    exit_code = 1


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
    exit_code = 2

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class StoreError(OpsbinderError):
    """The store cannot be reached or is not at the expected schema."""


class RunFailed(OpsbinderError):
    """A run ended failed for a reason it recorded and can say in one line (a stale backup, a
    sweep step that failed): an expected outcome, logged without a traceback. Flows hand it to
    Prefect as the data of a Failed state rather than raising it."""


class NotFound(OpsbinderError):
    exit_code = 3


class Refused(OpsbinderError):
    """A safety rule stopped an operation (plan guard, lock held, append-only record)."""

    exit_code = 4


class BadInput(OpsbinderError):
    """A value a person typed is not acceptable; the message names the field and the value."""

    exit_code = 2


class Forbidden(Refused):
    """Who asked may not do this (role, token scope, lockdown).

    The work is undone, but the refusal itself is kept: `store.db.session_scope` rolls the work
    back and then runs `record` (an audit entry) in a transaction of its own.
    """

    def __init__(self, message: str, record: Callable[[Session], object] | None = None) -> None:
        super().__init__(message)
        self.record = record
