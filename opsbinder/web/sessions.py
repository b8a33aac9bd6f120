"""Who is signed in to the console: the one place that starts, reads and ends a sign-in.

Today the session is Starlette's signed cookie holding the user's id (so a disabled user is
out at the next request). Server-side sessions (revocable at logout, password change and
account disable) replace these three functions and nothing else.
"""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.orm import Session

from opsbinder.store.models import User


def start(request: Request, user: User) -> None:
    request.session.clear()  # a fresh session (and CSRF token) on every sign-in
    request.session["user_id"] = user.id


def end(request: Request) -> None:
    request.session.clear()


def signed_in(request: Request, session: Session) -> User | None:
    user_id = request.session.get("user_id")
    if user_id is None:
        return None
    user = session.get(User, int(user_id))
    if user is None or not user.active:
        request.session.pop("user_id", None)
        return None
    return user
