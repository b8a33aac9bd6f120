"""What every procedure returns, whatever its kind: the flow records it as the run's outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["ok", "failed", "skipped"]


@dataclass
class ProcedureResult:
    status: Status
    summary: str
    metrics: dict[str, Any] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)  # each a clear reason, for failures

    @property
    def failed(self) -> bool:
        return self.status == "failed"
