"""What `binder audit` asks of a transition plan: can the successor take the pager on day one?

A plan is incomplete when it leaves a successor guessing: no incoming provider or nobody there
to call, no date the pager moves, someone the outgoing escalation path pages who is not said to
stay reachable (or who leaves before the pager moves), a secret the binder names that is not on
the hand-over checklist, or an entry nobody confirms. Each check is returned as plain data so
completeness.py weighs it with the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from opsbinder.config.models import ClientBinder, Transition
from opsbinder.handover.secret_names import env_names


@dataclass(frozen=True)
class Gap:
    code: str
    message: str
    path: str  # under `transition`, e.g. "outgoing" or "credentials"


Check = tuple[int, Gap | None]  # weight, and what is missing (None: the check passed)


def checks(binder: ClientBinder, paged: list[str]) -> list[Check]:
    """Every transition check; `paged` are the contacts the escalation path can page."""
    plan = binder.transition
    if plan is None:
        return [
            (
                4,
                Gap(
                    "transition-missing",
                    "no transition plan: add a transition: section (incoming provider and "
                    "contacts, pager_moves, outgoing people reachable until, credentials)",
                    "",
                ),
            )
        ]
    return [
        *_incoming(plan),
        *_outgoing(binder, plan, paged),
        *_credentials(binder, plan),
    ]


def _incoming(plan: Transition) -> list[Check]:
    incoming = plan.incoming
    callable_ = incoming is not None and any(c.phone or c.email for c in incoming.contacts)
    return [
        (
            4,
            None
            if incoming
            else Gap(
                "transition-no-incoming",
                "the transition names no incoming provider",
                "incoming",
            ),
        ),
        (
            3,
            None
            if callable_ or incoming is None
            else Gap(
                "transition-incoming-unreachable",
                f"nobody at the incoming provider {incoming.name!r} has a phone or e-mail",
                "incoming.contacts",
            ),
        ),
        (
            4,
            None
            if plan.pager_moves
            else Gap(
                "transition-no-pager-date",
                "the transition does not say the date the pager moves (pager_moves)",
                "pager_moves",
            ),
        ),
    ]


def _outgoing(binder: ClientBinder, plan: Transition, paged: list[str]) -> list[Check]:
    staff = {c.id for c in binder.contacts if c.staff}
    stays = {p.contact: p for p in plan.outgoing}
    found: list[Check] = []
    for person in (p for p in paged if p in staff):
        entry = stays.get(person)
        if entry is None:
            gap: Gap | None = Gap(
                "transition-outgoing-unknown",
                f"{person} is paged by the outgoing escalation path, but the transition does "
                "not say until when they stay reachable",
                "outgoing",
            )
        elif plan.pager_moves and entry.reachable_until < plan.pager_moves:
            gap = Gap(
                "transition-outgoing-leaves-early",
                f"{person} is reachable only until {entry.reachable_until}, before the pager "
                f"moves on {plan.pager_moves}",
                "outgoing",
            )
        else:
            gap = None
        found.append((2, gap))
    return found


def _credentials(binder: ClientBinder, plan: Transition) -> list[Check]:
    listed = {c.variable: c for c in plan.credentials}
    found: list[Check] = []
    # a variable named by a *_env field holds a secret (a URL with its password, a key); one
    # written as $VAR inside a path only says where files are, and moves with the machine
    named = {n: u for n, u in env_names(binder) if any(w.endswith("_env") for w in u)}
    for name in sorted({*named, *listed}):
        entry = listed.get(name)
        if entry is None:
            users = named[name]
            gap: Gap | None = Gap(
                "transition-credential-missing",
                f"secret {name} (used by {', '.join(users)}) is not on the credential "
                "hand-over checklist",
                "credentials",
            )
        elif not entry.confirmed_by.strip():
            gap = Gap(
                "transition-credential-unconfirmed",
                f"the hand-over of {name} does not say how the incoming side confirms it works",
                "credentials",
            )
        else:
            gap = None
        found.append((3, gap))
    return found
