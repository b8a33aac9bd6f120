"""Who may do what, through every door: one rule for the console, the API and the CLI.

Whoever asks is a `Principal`: a signed-in console user (their role), an API token (its scopes,
perhaps one client, perhaps the user it acts for and so that user's role), the CLI's operator
(whoever can reach the store: trusted as today, but never an admin), or a CLI user who proved
to be a console user with their password (`--admin`). `decide` is the table; `authorize` applies
it to one client's object, answers "not found" for a client the principal cannot see, and
refuses with `Forbidden`, whose audit entry outlives the rollback of the refused work.

The table (README, "Who may do what"):

| action                          | L1 | L2, L3, manager | admin | token scope      | CLI operator |
| ------------------------------- | -- | --------------- | ----- | ---------------- | ------------ |
| declare, acknowledge, resolve,  | ✓  | ✓               | ✓     | incidents:write  | ✓            |
| reopen, note, assign,           |    |                 |       |                  |              |
| stakeholder, commander, change  |    |                 |       |                  |              |
| severity, link a duplicate,     |    |                 |       |                  |              |
| waiting on the client           |    |                 |       |                  |              |
| post a status update, set the   | ✓  | ✓               | ✓     | updates:write    | ✓            |
| public title and state          |    |                 |       |                  |              |
| run now                         | ✓  | ✓               | ✓     | procedures:run   | ✓            |
| pause, resume                   | –  | ✓               | ✓     | procedures:run   | ✓            |
| issue, revoke integration keys  | –  | ✓               | ✓     | (no token)       | ✓            |
| sign off a checklist            | ✓  | ✓               | ✓     | (no token)       | ✓            |
| restore archived rows           | ✓  | ✓               | ✓     | (no token)       | ✓            |
| load a changed binder           | ✓  | ✓               | ✓     | (no token)       | ✓            |
| lock a client down              | ✓  | ✓               | ✓     | (no token)       | ✓            |
| lift a lockdown                 | –  | –               | ✓     | (no token)       | –            |

A token acting for a user needs the scope AND the user's role; a token without a user is a
service token: its scopes are all it may do. While a client is locked down only an admin acts on
it (a console admin, a token of an admin user, the CLI with `--admin`); locking down again stays
open to everyone, so the brake is never out of reach.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from sqlalchemy.orm import Session

from opsbinder import audit, run_grants
from opsbinder.clock import Clock, FrozenClock
from opsbinder.errors import Forbidden, NotFound
from opsbinder.store.models import AccessToken, Client, Incident, Procedure, User

Door = Literal["console", "api", "cli"]


class Action(StrEnum):
    DECLARE = "incident.declare"
    ACKNOWLEDGE = "incident.acknowledge"
    RESOLVE = "incident.resolve"
    REOPEN = "incident.reopen"
    NOTE = "incident.note"
    ASSIGN = "incident.assign"
    STAKEHOLDER = "incident.stakeholder"
    COMMANDER = "incident.commander"
    SEVERITY = "incident.severity"
    DUPLICATE = "incident.duplicate"
    WAIT = "incident.wait"
    POST_UPDATE = "update.post"
    PUBLISH = "update.publish"
    RUN = "procedure.run"
    PAUSE = "procedure.pause"
    RESUME = "procedure.resume"
    INTEGRATION_KEY = "client.integration_key"
    SIGN_OFF = "workitem.sign_off"
    RESTORE_ARCHIVE = "archive.restore"
    LOAD_BINDER = "client.load_binder"
    LOCK_DOWN = "client.lock_down"
    LIFT_LOCKDOWN = "client.lift_lockdown"


VERB = {
    Action.DECLARE: "declare incidents",
    Action.ACKNOWLEDGE: "acknowledge incidents",
    Action.RESOLVE: "resolve incidents",
    Action.REOPEN: "reopen incidents",
    Action.NOTE: "add notes to incidents",
    Action.ASSIGN: "assign incidents",
    Action.STAKEHOLDER: "add stakeholders to incidents",
    Action.COMMANDER: "name incident commanders",
    Action.SEVERITY: "change the severity of incidents",
    Action.DUPLICATE: "link duplicate incidents",
    Action.WAIT: "set or clear waiting on the client",
    Action.POST_UPDATE: "post status updates",
    Action.PUBLISH: "set what clients see of incidents",
    Action.RUN: "run procedures",
    Action.PAUSE: "pause procedures",
    Action.RESUME: "resume procedures",
    Action.INTEGRATION_KEY: "issue or revoke integration keys",
    Action.SIGN_OFF: "sign off checklists",
    Action.RESTORE_ARCHIVE: "restore archived rows into a client's database",
    Action.LOAD_BINDER: "load a changed binder",
    Action.LOCK_DOWN: "lock a client down",
    Action.LIFT_LOCKDOWN: "lift a lockdown",
}

# The scope a token needs for each action; None: no token may do it.
SCOPE: dict[Action, str | None] = {
    Action.DECLARE: "incidents:write",
    Action.ACKNOWLEDGE: "incidents:write",
    Action.RESOLVE: "incidents:write",
    Action.REOPEN: "incidents:write",
    Action.NOTE: "incidents:write",
    Action.ASSIGN: "incidents:write",
    Action.STAKEHOLDER: "incidents:write",
    Action.COMMANDER: "incidents:write",
    Action.SEVERITY: "incidents:write",
    Action.DUPLICATE: "incidents:write",
    Action.WAIT: "incidents:write",
    Action.POST_UPDATE: "updates:write",
    Action.PUBLISH: "updates:write",  # what the client reads, like a status update
    Action.RUN: "procedures:run",
    Action.PAUSE: "procedures:run",
    Action.RESUME: "procedures:run",
    Action.INTEGRATION_KEY: None,  # a key opens incidents: people decide who holds one
    Action.SIGN_OFF: None,
    Action.RESTORE_ARCHIVE: None,
    Action.LOAD_BINDER: None,
    Action.LOCK_DOWN: None,
    Action.LIFT_LOCKDOWN: None,
}

# Pausing skips a duty, a key lets a tool page people: those who can judge the consequences.
# Lifting a lockdown: an admin.
_JUDGED = {Action.PAUSE, Action.RESUME, Action.INTEGRATION_KEY}
_EVERY_STAFF = frozenset(Action) - _JUDGED - {Action.LIFT_LOCKDOWN}
_SENIOR = _EVERY_STAFF | _JUDGED
MAY: dict[str, frozenset[Action]] = {
    "L1": _EVERY_STAFF,
    "L2": _SENIOR,
    "L3": _SENIOR,
    "manager": _SENIOR,
    "admin": frozenset(Action),
}
OPERATOR_MAY = _SENIOR  # the CLI without proof: as before, but never an admin
ADMIN_ONLY = frozenset({Action.LIFT_LOCKDOWN})
OPEN_DURING_LOCKDOWN = frozenset({Action.LOCK_DOWN})

_PROOF = {
    "console": "sign in as an admin",
    "api": "use a token of an admin user",
    "cli": "prove it with --admin USER (password from OPSBINDER_ADMIN_PASSWORD or asked)",
}


@dataclass(frozen=True)
class Principal:
    """Who asks, through which door, with what they proved."""

    actor: str  # the name the audit log records
    door: Door
    role: str | None = None  # a proven user's role
    scopes: frozenset[str] | None = None  # a token's scopes; None: not a token
    client_id: str | None = None  # the one client a token is limited to
    display_name: str | None = None  # a proven user's name as clients may read it

    @classmethod
    def of_user(cls, user: User, door: Door) -> Principal:
        return cls(
            user.username, door, role=user.role, display_name=user.display_name or user.username
        )

    @classmethod
    def of_token(cls, token: AccessToken, user: User | None) -> Principal:
        actor = f"token:{token.prefix}"
        if user is not None:
            actor = f"{user.username} (token {token.prefix})"
        return cls(
            actor,
            "api",
            role=user.role if user is not None else None,
            scopes=frozenset(token.scopes),
            client_id=token.client_id,
            display_name=(user.display_name or user.username) if user is not None else None,
        )

    @classmethod
    def operator(cls, actor: str) -> Principal:
        """The CLI as whoever runs it: a name taken on trust, so never an admin."""
        return cls(actor, "cli")

    @property
    def is_operator(self) -> bool:
        return self.role is None and self.scopes is None

    def sees(self, client_id: str) -> bool:
        return self.client_id is None or self.client_id == client_id


@dataclass(frozen=True)
class Target:
    """The object acted on, and the client it belongs to."""

    client_id: str
    object_type: str
    object_id: str
    label: str  # "incident #12", in "no incident #12"

    @classmethod
    def client(cls, client_id: str) -> Target:
        return cls(client_id, "client", client_id, f"client {client_id!r}")

    @classmethod
    def procedure(cls, proc: Procedure) -> Target:
        return cls(
            proc.client_id, "procedure", f"{proc.client_id}/{proc.key}", f"procedure #{proc.id}"
        )

    @classmethod
    def incident(cls, incident: Incident) -> Target:
        return cls(incident.client_id, "incident", str(incident.id), f"incident #{incident.id}")


def decide(principal: Principal, action: Action, *, locked_down: bool) -> str | None:
    """Why `principal` may not do `action` on a client in this state; None when it may."""
    verb = VERB[action]
    if principal.scopes is not None:
        scope = SCOPE[action]
        if scope is None:
            return f"no API token may {verb}"
        if scope not in principal.scopes:
            return f"the token lacks the scope {scope!r} needed to {verb}"
    if action in ADMIN_ONLY and principal.role != "admin":
        return f"only an admin may {verb}; {_PROOF[principal.door]}"
    if principal.role is not None and action not in MAY.get(principal.role, frozenset()):
        return f"role {principal.role} may not {verb}"
    if principal.is_operator and action not in OPERATOR_MAY:
        return f"the CLI without --admin may not {verb}"
    if locked_down and action not in OPEN_DURING_LOCKDOWN and principal.role != "admin":
        return f"the client is locked down: only an admin may act on it; {_PROOF[principal.door]}"
    return None


def authorize(
    session: Session, clock: Clock, principal: Principal, action: Action, target: Target
) -> None:
    """Return when allowed; NotFound for a client the principal cannot see; else Forbidden."""
    if not principal.sees(target.client_id):
        raise NotFound(f"no {target.label}")
    client = session.get(Client, target.client_id)
    reason = decide(principal, action, locked_down=bool(client and client.locked_down))
    if reason is None:
        return
    at = FrozenClock(clock.now())

    def record(s: Session) -> None:
        record_refusal(s, at, principal.actor, principal.door, action, target, reason)

    where = target.label
    if target.object_type != "client":
        where += f" of client {target.client_id}"
    raise Forbidden(f"refused: {reason} ({where})", record)


def record_refusal(
    session: Session,
    clock: Clock,
    actor: str,
    door: str,
    action: Action,
    target: Target,
    reason: str,
) -> None:
    """The audit entry of every refusal: who, through which door, tried what, and why not."""
    audit.record(
        session,
        clock,
        actor=actor[:100],
        action="access.refused",
        object_type=target.object_type,
        object_id=target.object_id,
        client_id=target.client_id,
        details={"attempted": action.value, "door": door, "reason": reason},
    )


def admit_flow_run(session: Session, clock: Clock, proc: Procedure) -> str | None:
    """A flow is about to run `proc`, however it was started (a schedule, a person on the
    Prefect server, a door of opsbinder): None to go on, or why not, on record.

    The doors asked the rule before starting anything; a flow cannot know who started it, so
    while its client is locked down it runs only on a grant an admin's request left.
    """
    client = session.get(Client, proc.client_id)
    if client is None or not client.locked_down:
        return None
    if run_grants.claim(session, clock, proc) is not None:
        return None
    reason = (
        f"client {proc.client_id!r} is locked down: its procedures run only when an admin runs "
        "them through opsbinder (opsbinder run --admin USER, or run now in the console or API)"
    )
    record_refusal(session, clock, "flow", "flow", Action.RUN, Target.procedure(proc), reason)
    return reason


def require_scope(principal: Principal, scope: str) -> None:
    """Reading needs only the token's scope (console users and the CLI read everything)."""
    if principal.scopes is not None and scope not in principal.scopes:
        raise Forbidden(f"the token lacks the scope {scope!r}")
