"""Escalation policies: who is paged at each level, how long each level waits for an ack."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, model_validator

from opsbinder.config.models.base import Slug, Strict
from opsbinder.config.models.durations import Duration


class Target(Strict):
    """Exactly one of: a contact, an on-call schedule (whoever is on call), a webhook channel."""

    contact: Slug | None = None
    oncall: Slug | None = None
    webhook: Slug | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Target:
        given = [v for v in (self.contact, self.oncall, self.webhook) if v]
        if len(given) != 1:
            raise ValueError("a target names exactly one of contact, oncall or webhook")
        return self


class EscalationLevel(Strict):
    name: str
    targets: list[Target] = Field(min_length=1)
    ack_timeout: Duration


class EscalationPolicy(Strict):
    id: Slug
    name: str = ""
    levels: list[EscalationLevel] = Field(min_length=1)
    repeat: int = Field(0, ge=0, le=10, description="times the whole ladder repeats")
    sev1_management: list[Target] = Field(default_factory=list)
    sev1_management_interval: Duration = Field(default=timedelta(hours=1))
    update_cadence: Duration = Field(default=timedelta(hours=4))
    min_update_interval: Duration = Field(default=timedelta(hours=2))
