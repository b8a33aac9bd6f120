"""The whole binder: one client's sections merged across its files, and all clients together.

A new section is a module of its own beside this one plus one field on `ClientBinder`; the
loader takes its section names from these fields: a list field is a list section (files add to
it), any other field a mapping given in one file (optional, like `client` but with a default).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from opsbinder.config.models.base import Slug, Strict
from opsbinder.config.models.calendar import Holiday, MaintenanceWindow
from opsbinder.config.models.components import Component
from opsbinder.config.models.contract import Contract
from opsbinder.config.models.escalation import EscalationPolicy
from opsbinder.config.models.events import EventRules
from opsbinder.config.models.heartbeats import Heartbeat
from opsbinder.config.models.oncall import OnCallSchedule
from opsbinder.config.models.people import Contact, Stakeholder, WebhookChannel
from opsbinder.config.models.procedures import Procedure
from opsbinder.config.models.systems import System
from opsbinder.config.models.timing import TimeZoneName
from opsbinder.config.models.transition import Transition


class ClientInfo(Strict):
    id: Slug
    name: str
    timezone: TimeZoneName = "UTC"
    description: str = ""
    account_executive: Slug | None = None
    status_page_title: str | None = None


class ClientBinder(Strict):
    """Everything one client's folder of YAML says, merged across its files."""

    client: ClientInfo
    contacts: list[Contact] = Field(default_factory=list)
    stakeholders: list[Stakeholder] = Field(default_factory=list)
    webhooks: list[WebhookChannel] = Field(default_factory=list)
    systems: list[System] = Field(default_factory=list)
    procedures: list[Procedure] = Field(default_factory=list)
    escalation_policies: list[EscalationPolicy] = Field(default_factory=list)
    oncall_schedules: list[OnCallSchedule] = Field(default_factory=list)
    maintenance_windows: list[MaintenanceWindow] = Field(default_factory=list)
    holidays: list[Holiday] = Field(default_factory=list)
    contract: Contract | None = None
    events: EventRules = Field(default_factory=EventRules)
    heartbeats: list[Heartbeat] = Field(default_factory=list)
    components: list[Component] = Field(default_factory=list)
    transition: Transition | None = None
    locations: dict[str, str] = Field(
        default_factory=dict,
        description="where each item is written: 'procedures[purge-x]' -> 'purge.yaml:12', "
        "relative to the client's folder; filled by the loader, never written in YAML",
    )

    def location(self, section: str, item: str | None = None) -> str | None:
        """The file (and line) that holds an item, or the first file of a section."""
        return self.locations.get(f"{section}[{item}]" if item else section)

    def procedure(self, procedure_id: str) -> Procedure:
        for procedure in self.procedures:
            if procedure.id == procedure_id:
                return procedure
        raise KeyError(procedure_id)

    def contact(self, contact_id: str) -> Contact:
        return next(c for c in self.contacts if c.id == contact_id)

    def system(self, system_id: str) -> System:
        return next(s for s in self.systems if s.id == system_id)

    def policy(self, policy_id: str) -> EscalationPolicy:
        return next(p for p in self.escalation_policies if p.id == policy_id)

    def oncall(self, schedule_id: str) -> OnCallSchedule:
        return next(s for s in self.oncall_schedules if s.id == schedule_id)


NOT_SECTIONS = ("client", "locations")
SECTIONS = tuple(name for name in ClientBinder.model_fields if name not in NOT_SECTIONS)


class Binder(BaseModel):
    """All clients found under one configuration folder."""

    model_config = ConfigDict(frozen=True)

    clients: list[ClientBinder]
    sources: dict[str, str] = Field(default_factory=dict, description="client id -> folder")

    def client(self, client_id: str) -> ClientBinder:
        for client in self.clients:
            if client.client.id == client_id:
                return client
        known = ", ".join(c.client.id for c in self.clients) or "none"
        raise KeyError(f"no client {client_id!r} in the binder (known: {known})")

    def find_procedure(self, procedure_id: str) -> tuple[ClientBinder, Procedure]:
        """Find a procedure by id, or `client/procedure` when ids repeat across clients."""
        client_id, _, proc_id = procedure_id.rpartition("/")
        matches = [
            (c, p)
            for c in self.clients
            if not client_id or c.client.id == client_id
            for p in c.procedures
            if p.id == proc_id
        ]
        if not matches:
            raise KeyError(f"no procedure {procedure_id!r} in the binder")
        if len(matches) > 1:
            names = ", ".join(f"{c.client.id}/{p.id}" for c, p in matches)
            raise KeyError(f"procedure {procedure_id!r} is ambiguous: use one of {names}")
        return matches[0]
