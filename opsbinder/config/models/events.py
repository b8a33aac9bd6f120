"""How a client's monitoring events become incidents: the `events:` section of the binder.

PagerDuty Events v2 and Alertmanager both end up as an event with a severity word, a component
name and a set of attributes (PagerDuty's payload fields, Alertmanager's labels). The section maps
severity words to opsbinder severities, component names to the client's own names, and lets
routes (first match wins) set severity, component, escalation policy, or drop an event. Everything
has a default, so a client without the section still takes events.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from opsbinder.config.models.base import Severity, Slug, Strict

Word = Annotated[str, Field(min_length=1, max_length=200)]

DEFAULT_SEVERITIES: dict[str, Severity] = {
    "critical": "sev1",
    "error": "sev2",
    "warning": "sev3",
    "info": "sev4",
}


class EventRoute(Strict):
    """Events whose attributes all match (`fnmatch` patterns: `db-*`) take this route."""

    match: dict[Word, Word] = Field(min_length=1, max_length=20)
    severity: Severity | None = None
    component: Word | None = None
    escalation_policy: Slug | None = None
    drop: bool = Field(False, description="take no incident at all (noise)")


class AlertmanagerRules(Strict):
    """Alertmanager's labels as opsbinder sees them, and what one incident stands for."""

    incident_per: Literal["alert", "group"] = Field(
        "alert", description="one incident per alert fingerprint, or one per notification group"
    )
    severity_label: Word = "severity"
    component_label: Word = "component"
    client_label: Word = Field(
        "client", description="an alert labelled for another client is refused, never opened"
    )


class EventRules(Strict):
    severities: dict[Word, Severity] = Field(
        default_factory=lambda: dict(DEFAULT_SEVERITIES), max_length=50
    )
    default_severity: Severity = "sev3"
    components: dict[Word, Word] = Field(
        default_factory=dict, description="a tool's component name -> the client's", max_length=500
    )
    escalation_policy: Slug | None = Field(None, description="default: the client's first")
    routes: list[EventRoute] = Field(default_factory=list, max_length=200)
    alertmanager: AlertmanagerRules = Field(default_factory=AlertmanagerRules)
