"""How an API action answers: domain refusals become 4xx, never a 500."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from opsbinder.errors import BadInput, Forbidden, NotFound, OpsbinderError, Refused
from opsbinder.incidents.lifecycle import IncidentStateError
from opsbinder.incidents.status_updates import UpdateInvalid

T = TypeVar("T")


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
