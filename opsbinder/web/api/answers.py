"""How an API action answers: domain refusals become 4xx, never a 500."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from opsbinder.errors import BadInput, Forbidden, NotFound, OpsbinderError, Refused
from opsbinder.incidents.lifecycle import IncidentStateError
from opsbinder.incidents.status_updates import UpdateInvalid

T = TypeVar("T")


class Refusal(BaseModel):
    detail: str | list[dict[str, Any]] = Field(
        description="why, in one line; for a request that does not validate, one entry per field"
    )


_WHY = {
    401: "no bearer token, or one unknown, revoked or expired, or its user is disabled",
    403: "the token lacks the scope, the user's role may not, or the client is locked down",
    404: "no such record, or one of a client this token does not see",
    409: "the record's state forbids it (already acknowledged or resolved, too soon for "
    "another update, a key already in use)",
    413: "the request body is larger than the server's limit",
    422: "a field out of range or missing, or text no store can hold (a NUL character)",
}


def documented(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error answers a route can give, for its OpenAPI entry."""
    return {code: {"model": Refusal, "description": _WHY[code]} for code in codes}


EVERY_ROUTE = documented(401, 403, 413, 422)  # the bearer, the scope, the request guard
READ_ONE = documented(404)  # a route that reads one record by its id
ACTION = documented(404, 409)  # a route that acts on a record (through `perform`)


def perform(session: Session, action: Callable[[Session], T]) -> T:
    """One action in a savepoint. Who may not (`Forbidden`) is a 403 and an audit entry, left
    to the app's handler and the session scope; the rest is the state of things."""
    try:
        with session.begin_nested():
            return action(session)
    except Forbidden:
        raise
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except (Refused, IncidentStateError) as exc:
        raise HTTPException(409, str(exc)) from exc
    except (UpdateInvalid, BadInput) as exc:
        raise HTTPException(422, str(exc)) from exc
    except OpsbinderError as exc:
        raise HTTPException(400, str(exc)) from exc
