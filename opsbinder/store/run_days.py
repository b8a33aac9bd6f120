"""The runs' roll-up: one row per client, procedure and UTC day holding the additive figures of
that day's runs (dry runs left out), kept by database triggers on every write to `runs` (see the
migration 0010_rollup for why triggers and why UTC days). Never written by the code."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from opsbinder.store.base import Base, BigId


class RunDay(Base):
    __tablename__ = "run_days"

    client_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True
    )
    procedure_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("procedures.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(primary_key=True)
    runs: Mapped[int] = mapped_column(Integer)
    ok: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    skipped: Mapped[int] = mapped_column(Integer)
    missed: Mapped[int] = mapped_column(Integer)
    due: Mapped[int] = mapped_column(Integer)
    on_time: Mapped[int] = mapped_column(Integer)
    rows_purged: Mapped[float] = mapped_column(Float)
    bytes_archived: Mapped[float] = mapped_column(Float)
