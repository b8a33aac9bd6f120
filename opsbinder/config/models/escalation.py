"""Escalation policies: who is paged at each level, how long each level waits for an ack."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import Discriminator, Field, Tag, model_validator

from opsbinder.config.models.base import Severity, Slug, Strict, located
from opsbinder.config.models.durations import Duration

SEVERITIES: tuple[Severity, ...] = ("sev1", "sev2", "sev3", "sev4")


class Target(Strict):
    """Exactly one of: a contact, an on-call schedule (whoever is on call, or whoever is on in
    one `layer` of it: `{oncall: l1, layer: secondary}`), a webhook channel."""

    contact: Slug | None = None
    oncall: Slug | None = None
    layer: str | None = Field(None, min_length=1, description="a layer (rotation) by its name")
    webhook: Slug | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Target:
        given = [v for v in (self.contact, self.oncall, self.webhook) if v]
        if len(given) != 1:
            raise ValueError("a target names exactly one of contact, oncall or webhook")
        if self.layer is not None and not self.oncall:
            raise located("layer", "a layer belongs to an on-call schedule: add oncall")
        return self


class PerSeverity(Strict):
    """An acknowledgement timeout per severity, `default` for the severities not named."""

    sev1: Duration | None = None
    sev2: Duration | None = None
    sev3: Duration | None = None
    sev4: Duration | None = None
    default: Duration | None = None

    @model_validator(mode="after")
    def _covers_all(self) -> PerSeverity:
        unnamed = [s for s in SEVERITIES if getattr(self, s) is None]
        if unnamed and self.default is None:
            raise located("default", f"missing: a default for {', '.join(unnamed)}",
                          "missing_choice")  # fmt: skip
        return self

    def of(self, severity: str) -> timedelta:
        found = getattr(self, severity, None) if severity in SEVERITIES else None
        value = found or self.default
        assert value is not None  # _covers_all
        return value


def _ack_form(value: Any) -> str:
    return "per-severity" if isinstance(value, dict | PerSeverity) else "one-duration"


AckTimeout = Annotated[
    Annotated[Duration, Tag("one-duration")] | Annotated[PerSeverity, Tag("per-severity")],
    Discriminator(_ack_form),
]


class EscalationLevel(Strict):
    name: str
    targets: list[Target] = Field(min_length=1)
    ack_timeout: AckTimeout = Field(description='"15m", or {sev1: 5m, default: 30m}')

    def timeout(self, severity: str) -> timedelta:
        """How long this level waits for an acknowledgement of an incident of `severity`."""
        if isinstance(self.ack_timeout, PerSeverity):
            return self.ack_timeout.of(severity)
        return self.ack_timeout


class EscalationPolicy(Strict):
    id: Slug
    name: str = ""
    levels: list[EscalationLevel] = Field(min_length=1)
    repeat: int = Field(0, ge=0, le=10, description="times the whole ladder repeats")
    sev1_management: list[Target] = Field(default_factory=list)
    sev1_management_interval: Duration = Field(default=timedelta(hours=1))
    update_cadence: Duration = Field(default=timedelta(hours=4))
    min_update_interval: Duration = Field(default=timedelta(hours=2))
