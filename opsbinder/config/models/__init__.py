"""The binder as pydantic models: what a client's YAML may say, checked field by field.

One module per section (people, systems, procedures and their params, escalation, on-call,
calendar, contract) and `binder.py` gathering them. This package is the one way to import them:
`from opsbinder.config.models import ClientBinder, Procedure`.

Cross-references between sections (a procedure naming a policy, a level naming a contact) are
checked in `opsbinder/config/references.py`, after every file of the binder is read, because
they span files.
"""

from opsbinder.config.models.base import (
    ENV_NAME,
    SLUG,
    EnvName,
    Severity,
    Slug,
    Strict,
    SupportLevel,
    located,
)
from opsbinder.config.models.binder import SECTIONS, Binder, ClientBinder, ClientInfo
from opsbinder.config.models.calendar import Holiday, MaintenanceWindow
from opsbinder.config.models.components import Component
from opsbinder.config.models.contract import (
    Contract,
    OnTimeTarget,
    ServiceHours,
    SeverityTarget,
)
from opsbinder.config.models.durations import FORMS as DURATION_FORMS
from opsbinder.config.models.durations import Duration, parse_duration
from opsbinder.config.models.escalation import EscalationLevel, EscalationPolicy, Target
from opsbinder.config.models.events import AlertmanagerRules, EventRoute, EventRules
from opsbinder.config.models.heartbeats import Heartbeat
from opsbinder.config.models.oncall import OnCallSchedule, Override, Rotation
from opsbinder.config.models.params import (
    ArchiveParams,
    BackupCheckParams,
    CustomParams,
    DiskCheckParams,
    ManualParams,
    PurgeParams,
    UpdateReminderParams,
)
from opsbinder.config.models.people import Contact, Stakeholder, WebhookChannel
from opsbinder.config.models.procedures import (
    PROCEDURE_KINDS,
    ArchiveProcedure,
    BackupCheckProcedure,
    Cadence,
    CustomProcedure,
    DiskCheckProcedure,
    ManualProcedure,
    Procedure,
    PurgeProcedure,
    Runbook,
    Schedule,
    UpdateReminderProcedure,
)
from opsbinder.config.models.systems import (
    SYSTEM_TYPES,
    BackupLocation,
    DatabaseSystem,
    PathSystem,
    SoftwareInventory,
    SoftwareItem,
    System,
)
from opsbinder.config.models.timing import (
    BinderDate,
    BinderDateTime,
    CronExpr,
    TimeZoneName,
    date_problem,
)
from opsbinder.config.models.transition import (
    CredentialHandover,
    IncomingContact,
    IncomingProvider,
    OutgoingPerson,
    Transition,
)

__all__ = [
    "DURATION_FORMS",
    "ENV_NAME",
    "PROCEDURE_KINDS",
    "SECTIONS",
    "SLUG",
    "SYSTEM_TYPES",
    "AlertmanagerRules",
    "ArchiveParams",
    "ArchiveProcedure",
    "BackupCheckParams",
    "BackupCheckProcedure",
    "BackupLocation",
    "Binder",
    "BinderDate",
    "BinderDateTime",
    "Cadence",
    "ClientBinder",
    "ClientInfo",
    "Component",
    "Contact",
    "Contract",
    "CredentialHandover",
    "CronExpr",
    "CustomParams",
    "CustomProcedure",
    "DatabaseSystem",
    "DiskCheckParams",
    "DiskCheckProcedure",
    "Duration",
    "EnvName",
    "EscalationLevel",
    "EscalationPolicy",
    "EventRoute",
    "EventRules",
    "Heartbeat",
    "Holiday",
    "IncomingContact",
    "IncomingProvider",
    "MaintenanceWindow",
    "ManualParams",
    "ManualProcedure",
    "OnCallSchedule",
    "OnTimeTarget",
    "OutgoingPerson",
    "Override",
    "PathSystem",
    "Procedure",
    "PurgeParams",
    "PurgeProcedure",
    "Rotation",
    "Runbook",
    "Schedule",
    "ServiceHours",
    "Severity",
    "SeverityTarget",
    "Slug",
    "SoftwareInventory",
    "SoftwareItem",
    "Stakeholder",
    "Strict",
    "SupportLevel",
    "System",
    "Target",
    "TimeZoneName",
    "Transition",
    "UpdateReminderParams",
    "UpdateReminderProcedure",
    "WebhookChannel",
    "date_problem",
    "located",
    "parse_duration",
]
