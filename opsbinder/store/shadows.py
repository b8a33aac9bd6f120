"""The shadow period of a client taken over with `binder import --shadow`: while it lasts every
run of the client's procedures is a dry run (see `opsbinder.shadow`)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsbinder.store.base import Base


class ShadowPeriod(Base):
    """One row per client ever shadowed; `ended_at` is set when the successor goes live, and the
    row stays so the shadow report still knows which runs were the shadow's."""

    __tablename__ = "shadow_periods"

    client_id: Mapped[str] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True
    )
    until: Mapped[date] = mapped_column(Date, doc="last day of the shadow, the client's local date")
    started_at: Mapped[datetime]
    started_by: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(Text, default="", doc="the export folder imported")
    ended_at: Mapped[datetime | None]
    ended_by: Mapped[str | None] = mapped_column(String(100))
