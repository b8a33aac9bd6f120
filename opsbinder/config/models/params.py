"""The `params` of each procedure kind: what a purge, an archive, a check needs to know."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from opsbinder.config.models.base import EnvName, Slug, Strict, located
from opsbinder.config.models.durations import Duration
from opsbinder.config.models.retention import Retention, RetentionPeriod

MAX_DAYS = 36_500  # a hundred years: a retention beyond that is a typo, and overflows dates


class PurgeParams(Strict):
    table: str = Field(min_length=1)
    schema_name: str | None = Field(None, alias="schema")
    age_column: str = Field(min_length=1)
    retention_days: int | None = Field(None, ge=1, le=MAX_DAYS, description="same as 'N days'")
    retention: RetentionPeriod | None = Field(None, description='"90 days", "10 years from ..."')
    batch_size: int = Field(5000, ge=1, le=1_000_000)
    max_batch_seconds: float = Field(0.1, gt=0, le=60)
    max_rows: int | None = Field(None, ge=1, le=10**12, description="plan guard: refuse above this")
    max_growth: float = Field(5.0, gt=1, le=1000, description="plan guard: times the usual amount")
    drop_partitions: bool = True

    @model_validator(mode="after")
    def _one_retention(self) -> PurgeParams:
        _one_of(self.retention, self.retention_days, "retention")
        return self

    @property
    def keep(self) -> Retention:
        """How long rows are kept, whichever way the binder said it."""
        return self.retention or Retention(self.retention_days or 0, "days")


class ArchiveParams(Strict):
    table: str = Field(min_length=1)
    schema_name: str | None = Field(None, alias="schema")
    age_column: str = Field(min_length=1)
    key_column: str | list[str] = Field(
        "id", description="a unique column, or columns unique together: [receipt_id, sold_at]"
    )
    older_than_days: int | None = Field(None, ge=1, le=MAX_DAYS, description="same as 'N days'")
    older_than: RetentionPeriod | None = Field(None, description='"2 years", "6 years from ..."')
    destination: str = Field(min_length=1, description="directory, or schema.table")
    destination_type: Literal["file", "table"] = "file"
    format: Literal["jsonl", "csv"] = "jsonl"
    compression: Literal["gzip", "zstd"] = "gzip"
    batch_size: int = Field(10000, ge=1, le=1_000_000)
    partitions: Literal["rows", "whole"] = Field(
        "rows", description="whole: detach, export and drop expired PostgreSQL range partitions"
    )

    @model_validator(mode="after")
    def _one_retention(self) -> ArchiveParams:
        _one_of(self.older_than, self.older_than_days, "older_than")
        return self

    @model_validator(mode="after")
    def _key_columns(self) -> ArchiveParams:
        """Each column once and none blank: the key is what rows are deleted and restored by."""
        names = self.key_columns
        if not names:
            raise located("key_column", "names no column; give a unique column or a list of "
                          "columns unique together, e.g. [receipt_id, sold_at]")  # fmt: skip
        if blank := [n for n in names if not n.strip()]:
            raise located("key_column", f"a column name is blank ({blank[0]!r})")
        if twice := sorted({n for n in names if names.count(n) > 1}):
            raise located("key_column", f"names {twice[0]!r} twice; each column once")
        return self

    @model_validator(mode="after")
    def _whole_partitions_to_files(self) -> ArchiveParams:
        if self.partitions == "whole" and self.destination_type != "file":
            raise located("partitions", "whole partitions are archived to files; "
                          "use destination_type: file, or partitions: rows")  # fmt: skip
        return self

    @property
    def key_columns(self) -> tuple[str, ...]:
        """The key as a list of columns, however the binder wrote it."""
        key = self.key_column
        return (key,) if isinstance(key, str) else tuple(key)

    @property
    def keep(self) -> Retention:
        """How long rows stay in the table before they are archived."""
        return self.older_than or Retention(self.older_than_days or 0, "days")


def _one_of(period: Retention | None, days: int | None, name: str) -> None:
    """A retention is given once: as a period ("10 years") or, as before, a number of days."""
    if period is not None and days is not None:
        raise located(name, f"give {name} or {name}_days, not both")
    if period is None and days is None:
        raise located(name, "missing: how long rows are kept, e.g. \"90 days\" or "
                      "\"10 years from the end of the year\"", "missing_choice")  # fmt: skip


class BackupCheckParams(Strict):
    max_age: Duration
    size_tolerance: float = Field(0.5, gt=0, le=10, description="fraction of the median size")
    pg_restore_list: bool = False
    restore_drill: bool = False
    restore_to: Slug | None = Field(None, description="the scratch database system to restore to")
    drill_database_url_env: EnvName | None = None
    sanity_queries: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_target(self) -> BackupCheckParams:
        """A drill names where it restores to, once: a database system, or (as before) the
        variable holding a scratch database's URL."""
        if self.restore_to and self.drill_database_url_env:
            raise located("restore_to", "give restore_to or drill_database_url_env, not both")
        if self.restore_drill and not (self.restore_to or self.drill_database_url_env):
            raise located("restore_to", "missing: where the drill restores to (a database "
                          "system of the binder, a scratch copy)", "missing_choice")  # fmt: skip
        return self


class DiskCheckParams(Strict):
    paths: list[str] = Field(default_factory=list)
    warn_percent: float = Field(80, gt=0, lt=100)
    critical_percent: float = Field(90, gt=0, le=100)
    database_size_warn_gb: float | None = Field(None, gt=0, le=1_000_000)
    database_size_critical_gb: float | None = Field(None, gt=0, le=1_000_000)

    @model_validator(mode="after")
    def _ordered(self) -> DiskCheckParams:
        if self.warn_percent >= self.critical_percent:
            raise located(
                "warn_percent",
                f"must be below critical_percent ({self.critical_percent:g})",
            )
        return self


class UpdateReminderParams(Strict):
    remind_days_ahead: int = Field(default=30, ge=0, le=365)


class ManualParams(Strict):
    deadline: Duration = Field(default=timedelta(days=1), description="time to sign it off")
    lockdown: bool = Field(
        default=False, description="this checklist is the client's lockdown procedure"
    )


class CustomParams(Strict):
    entrypoint: str = Field(pattern=r"^[\w.]+:[\w]+$", description="module.path:function")
    arguments: dict[str, Any] = Field(default_factory=dict)

    @field_validator("arguments")
    @classmethod
    def _json_only(cls, value: dict[str, Any]) -> dict[str, Any]:
        """The arguments are stored as JSON and passed to the function: only JSON values."""
        for key, item in value.items():
            if problem := _not_json(item):
                raise located(key, problem)
        return value


def _not_json(value: Any) -> str | None:
    """Why a value cannot be an argument: not JSON, or not a finite number."""
    if isinstance(value, float) and not math.isfinite(value):
        return "numbers must be finite (not .inf or .nan)"
    if value is None or isinstance(value, str | int | float | bool):
        return None
    if isinstance(value, list):
        return next((p for v in value if (p := _not_json(v))), None)
    if isinstance(value, dict):
        if any(not isinstance(key, str) for key in value):
            return "the keys of a mapping must be words"
        return next((p for v in value.values() if (p := _not_json(v))), None)
    return f"a {type(value).__name__} is not a JSON value (quote dates and times)"
