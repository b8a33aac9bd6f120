"""The completeness score in parts, so that it cannot read as reassuring while what matters fails.

A plain share of checks passed let forty contact and runbook checks outvote a failing backup:
84/100 while no restore had ever been tried. So the 100 points are split into parts by what
a failure costs the client, and each part loses its points in proportion to the weight of its
checks that failed (rounded up: any finding costs at least one point, so 100 means nothing was
found). A part with no checks (a client without backups) loses nothing and says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Part:
    key: str
    title: str
    points: int


PARTS = (
    Part("runs", "procedures run and succeed", 30),
    Part("backups", "backups checked and restore-tested", 20),
    Part("reach", "escalation and on-call reach someone", 15),
    Part("lockdown", "lockdown ready and signed off", 10),
    Part("runbooks", "owners and runbooks", 10),
    Part("transition", "transition plan", 8),
    Part("consistency", "binder agrees with itself", 5),
    Part("phones", "phone numbers for Severity 1", 2),
)


@dataclass
class Tally:
    """One part's checks: their total weight and the weight of those that failed."""

    part: Part
    checks: int = 0
    weight: int = 0
    failed_weight: int = 0
    findings: int = 0

    def add(self, weight: int, failed: bool) -> None:
        self.checks += 1
        self.weight += weight
        if failed:
            self.failed_weight += weight
            self.findings += 1

    @property
    def lost(self) -> int:
        if not self.failed_weight:
            return 0
        return math.ceil(self.part.points * self.failed_weight / self.weight)

    def cost(self, weight: int) -> float:
        """The points one failed check of this weight takes from the part (to rank findings)."""
        return self.part.points * weight / self.weight if self.weight else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "part": self.part.key,
            "title": self.part.title,
            "points": self.part.points,
            "lost": self.lost,
            "checks": self.checks,
            "findings": self.findings,
            "applies": bool(self.checks),
        }


def tallies() -> dict[str, Tally]:
    return {p.key: Tally(p) for p in PARTS}


def total(parts: dict[str, Tally]) -> int:
    return max(0, 100 - sum(t.lost for t in parts.values()))


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    where: str
    weight: int
    part: str = "runs"

    def __str__(self) -> str:
        return f"[{self.code}] {self.message} — fix in {self.where}"


@dataclass
class Completeness:
    client_id: str
    findings: list[Finding] = field(default_factory=list)
    checks: int = 0
    verification: dict[str, str] = field(default_factory=dict)  # procedure -> last verdict
    parts: dict[str, Tally] = field(default_factory=tallies)

    @property
    def score(self) -> int:
        return total(self.parts)

    def check(self, part: str, weight: int, finding: Finding | None) -> None:
        self.checks += 1
        self.parts[part].add(weight, finding is not None)
        if finding is not None:
            self.findings.append(
                Finding(finding.code, finding.message, finding.where, weight, part)
            )

    def cost(self, finding: Finding) -> float:
        return self.parts[finding.part].cost(finding.weight)

    def worst_first(self) -> list[Finding]:
        """Findings by the points each takes from the score, the costliest first."""
        return sorted(self.findings, key=self.cost, reverse=True)

    def as_dict(self) -> dict[str, object]:
        return {
            "client": self.client_id,
            "score": self.score,
            "checks": self.checks,
            "parts": [t.as_dict() for t in self.parts.values()],
            "findings": [
                {
                    "code": f.code,
                    "message": f.message,
                    "where": f.where,
                    "part": f.part,
                    "points": round(self.cost(f), 1),
                }
                for f in self.worst_first()
            ],
            "verification": self.verification,
        }

    def codes(self) -> set[str]:
        return {f.code for f in self.findings}
