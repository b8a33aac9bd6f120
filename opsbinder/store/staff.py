"""The tables of the staff who sign in: console users, API and status-page tokens, console
sessions and the sign-in throttle's counts. Secrets are never stored, only their hashes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from opsbinder.store.base import Base, BigId


class User(Base):
    """Staff who sign in to the console."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16), doc="L1 L2 L3 manager admin")
    password_hash: Mapped[str] = mapped_column(String(300))
    provider: Mapped[str] = mapped_column(String(100), default="msp", doc="the support firm")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class AccessToken(Base):
    """API tokens and client status-page tokens; only a hash of the token is kept."""

    __tablename__ = "access_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12), doc="first characters, to tell tokens apart")
    name: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(16), doc="api or status_page")
    client_id: Mapped[str | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    provider: Mapped[str] = mapped_column(String(100), default="msp")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class ConsoleSession(Base):
    """A console sign-in, kept server-side so it ends at once: the cookie holds only a random
    id, and only that id's SHA-256 is stored (a copy of the database resumes no session)."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(doc="the absolute end, however active")
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str] = mapped_column(String(32), default="")
    address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")


class SignInFailures(Base):
    """Failed sign-ins of one account or one address in the current burst: the throttle's state,
    in the store so that every web worker sees the same count."""

    __tablename__ = "sign_in_failures"

    key: Mapped[str] = mapped_column(String(200), primary_key=True, doc="user:NAME or addr:IP")
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime]
    blocked_until: Mapped[datetime | None]
    announced: Mapped[bool] = mapped_column(Boolean, default=False, doc="this burst is audited")
