"""What one run of a procedure came to, as flows return it and as people read it.

The same `Outcome` feeds the Prefect markdown artifact of a run, the bundle's table, and the
CLI's outcome table, so the three never disagree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from opsbinder.errors import RunFailed
from opsbinder.procedures.result import ProcedureResult

# The metrics worth a column in a table, per kind, in order; the artifact shows all of them.
KEY_METRICS: dict[str, tuple[str, ...]] = {
    "purge": ("rows_deleted", "planned_rows", "batches", "longest_batch_ms"),
    "archive": ("rows_archived", "files", "bytes_archived"),
    "backup_check": ("newest_age_hours", "newest_size_bytes", "checksum", "toc_entries"),
    "disk_check": ("max_percent", "days_until_full", "database_bytes"),
    "update_reminder": ("reminders_created", "reminders_open", "overdue_new"),
    "manual": ("work_item", "open", "overdue"),
    "custom": ("rows",),
}
LABELS = {
    "newest_age_hours": "age_h",
    "newest_size_bytes": "size",
    "max_percent": "used%",
    "days_until_full": "full_in_d",
    "reminders_created": "created",
    "reminders_open": "open",
    "rows_deleted": "deleted",
    "rows_archived": "archived",
}


@dataclass
class Outcome:
    client_id: str
    procedure_id: str
    kind: str
    outcome: str  # a Run outcome: ok failed skipped crashed timed_out ...
    summary: str
    metrics: dict[str, Any] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)
    run_id: int | None = None
    flow_run_id: str | None = None
    dry_run: bool = False

    @classmethod
    def of(
        cls, client_id: str, procedure_id: str, kind: str, result: ProcedureResult, **kw: Any
    ) -> Outcome:
        return cls(
            client_id, procedure_id, kind, result.status, result.summary,
            dict(result.metrics), list(result.findings), **kw,
        )  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Outcome:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def name(self) -> str:
        return f"{self.client_id}/{self.procedure_id}"

    @property
    def failed(self) -> bool:
        return self.outcome in ("failed", "crashed", "timed_out")


class ProcedureFailed(RunFailed):
    """A procedure run that ended failed, timed out or crashed, with its outcome."""

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome
        super().__init__(f"{outcome.name} {outcome.outcome}: {outcome.summary}")

    def __reduce__(self) -> tuple[type, tuple[Outcome]]:  # Prefect may pickle state data
        return (type(self), (self.outcome,))


class BundleFailed(RunFailed):
    """A bundle of which at least one procedure failed, with every procedure's outcome."""

    def __init__(self, outcomes: list[Outcome]) -> None:
        self.outcomes = outcomes
        failed = [o.procedure_id for o in outcomes if o.failed]
        super().__init__(f"{len(failed)} of {len(outcomes)} procedures failed: {', '.join(failed)}")

    def __reduce__(self) -> tuple[type, tuple[list[Outcome]]]:
        return (type(self), (self.outcomes,))


def exception_text(exc: BaseException) -> str:
    """An exception as a person reads it in a run's reason: its type, and its text if any."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def exception_result(exc: BaseException, timeout_seconds: float) -> tuple[str, ProcedureResult]:
    """What an exception out of a procedure's run means: the run's outcome (`timed_out` when the
    procedure's timeout ended it, else `failed`) and the result to record, its reason naming the
    exception so a person reading the incident knows what broke."""
    message = exception_text(exc)
    if isinstance(exc, TimeoutError):
        message = f"timed out after {timeout_seconds:g} s ({message})"
        return "timed_out", ProcedureResult("failed", message, {}, [message])
    return "failed", ProcedureResult("failed", message, {}, [message])


# A procedure flow that ended without a result of its own, by its final state's name.
ENDED_AS = {"Crashed": "crashed", "TimedOut": "timed_out", "Cancelled": "cancelled"}


def outcome_of_ending(
    client_id: str,
    procedure_id: str,
    kind: str,
    *,
    data: object,
    state_name: str | None,
    failed: bool,
    message: str | None,
) -> Outcome:
    """What a procedure flow's final state says, whatever way it ended: its own outcome when it
    ended with one (a dict, or a ProcedureFailed), else the state's name and message (a crash,
    a cancel, a timeout of the whole flow, an error before the run was recorded)."""
    if isinstance(data, dict):
        return Outcome.from_dict(data)
    if isinstance(data, ProcedureFailed):
        return data.outcome
    outcome = ENDED_AS.get(state_name or "", "failed" if failed else "ok")
    text = str(data) if isinstance(data, BaseException) else (message or state_name)
    return Outcome(client_id, procedure_id, kind, outcome, str(text))


def outcomes_of_bundle(
    data: object, *, state_name: str | None, message: str | None
) -> list[Outcome]:
    """The procedures' outcomes a bundle flow ended with; anything else is an error to raise."""
    if isinstance(data, BundleFailed):
        return data.outcomes
    if isinstance(data, list):
        return [Outcome.from_dict(d) for d in data]
    if isinstance(data, BaseException):
        raise data
    raise RuntimeError(f"the bundle ended {state_name}: {message}")


def key_metrics(outcome: Outcome, limit: int = 3) -> str:
    """A few `name=value` pairs that fit a table cell."""
    wanted = KEY_METRICS.get(outcome.kind, ())
    scalars = {
        k: v
        for k, v in outcome.metrics.items()
        if k != "summary" and isinstance(v, int | float | str) and not isinstance(v, bool)
    }
    names = [k for k in wanted if k in scalars] or list(scalars)
    return " ".join(f"{LABELS.get(k, k)}={_short(scalars[k])}" for k in names[:limit])


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int) and abs(value) >= 10_000:
        for unit, size in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
            if abs(value) >= size:
                return f"{value / size:.1f}{unit}"
    text = str(value)
    return text if len(text) <= 24 else text[:23] + "…"


def artifact_key(*parts: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    raw = "-".join(parts).lower()
    return "".join(c if c.isalnum() or c == "-" else "-" for c in raw)


def run_markdown(outcome: Outcome, *, name: str = "", dry_run: bool = False) -> str:
    title = f"{outcome.procedure_id}" + (f" — {name}" if name else "")
    lines = [
        f"# {title}",
        "",
        f"**Outcome: {outcome.outcome.upper()}**{' (dry run)' if dry_run else ''} · "
        f"client `{outcome.client_id}` · kind `{outcome.kind}`"
        + (f" · run #{outcome.run_id}" if outcome.run_id else ""),
        "",
        _cell(outcome.summary, 2000),
    ]
    if outcome.findings:
        lines += ["", "## Findings", ""] + [f"- {_cell(f, 1000)}" for f in outcome.findings]
    metrics = {k: v for k, v in outcome.metrics.items() if k != "summary"}
    if metrics:
        lines += ["", "## Metrics", "", "| metric | value |", "| --- | --- |"]
        lines += [f"| {k} | {_cell(_flat(v), 300)} |" for k, v in metrics.items()]
    return "\n".join(lines) + "\n"


def bundle_markdown(client_id: str, cadence: str, outcomes: list[Outcome]) -> str:
    failed = sum(o.failed for o in outcomes)
    lines = [
        f"# {client_id} {cadence} bundle",
        "",
        f"{len(outcomes)} procedures, {failed} failed.",
        "",
        "| procedure | kind | outcome | summary | key metrics |",
        "| --- | --- | --- | --- | --- |",
    ]
    for o in outcomes:
        lines.append(
            f"| {o.procedure_id} | {o.kind} | **{o.outcome}** | {_cell(o.summary, 300)} | "
            f"{_cell(key_metrics(o), 200)} |"
        )
    return "\n".join(lines) + "\n"


def _flat(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_flat(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(_flat(v) for v in value)
    return str(value)


def _cell(text: str, limit: int) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"
