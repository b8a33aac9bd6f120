"""The runs' roll-up: one row per client, procedure and UTC day holding the additive figures of
that day's runs (dry runs left out), kept by database triggers on every write to `runs` (see the
migration 0010_rollup for why triggers and why UTC days); and the same per UTC month, kept by
triggers on `run_days` (0011_rollup_months). Never written by the code."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from opsbinder.store.base import Base, BigId


class _Figures:
    """The additive run figures both levels hold (opsbinder.reports.figures.RUN_FIGURES)."""

    runs: Mapped[int] = mapped_column(Integer)
    ok: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    skipped: Mapped[int] = mapped_column(Integer)
    missed: Mapped[int] = mapped_column(Integer)
    due: Mapped[int] = mapped_column(Integer)
    on_time: Mapped[int] = mapped_column(Integer)
    rows_purged: Mapped[float] = mapped_column(Float)
    bytes_archived: Mapped[float] = mapped_column(Float)


class RunDay(_Figures, Base):
    __tablename__ = "run_days"

    client_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True
    )
    procedure_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("procedures.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(primary_key=True)


class RunMonth(_Figures, Base):
    __tablename__ = "run_months"

    client_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True
    )
    procedure_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("procedures.id", ondelete="CASCADE"), primary_key=True
    )
    month: Mapped[date] = mapped_column(primary_key=True, doc="its first day")
