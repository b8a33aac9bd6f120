"""The handover plan: who takes the pager and when, who stays reachable, which secrets move.

Every part is optional here so that a half-written plan still loads and runs: `binder audit`
(opsbinder/handover/transition_audit.py) names each missing part, where a refusal would only
hide the rest of the binder. What is written is checked as strictly as any other section:
contacts named must exist and nobody or no secret is listed twice (references.py), dates must be dates, and a credential is named by
its environment variable only, so the checklist can never carry the value itself.
"""

from __future__ import annotations

from pydantic import Field

from opsbinder.config.models.base import EnvName, Slug, Strict
from opsbinder.config.models.timing import BinderDate


class IncomingContact(Strict):
    """A person of the incoming provider: not an opsbinder contact yet, so written out here."""

    name: str = Field(min_length=1)
    role: str = ""
    email: str | None = None
    phone: str | None = None


class IncomingProvider(Strict):
    name: str = Field(min_length=1, description="the firm taking the client over")
    contacts: list[IncomingContact] = Field(default_factory=list)


class OutgoingPerson(Strict):
    """Someone of the outgoing provider the successor may still call, and until when."""

    contact: Slug = Field(description="id of a contact of the binder")
    reachable_until: BinderDate
    how: str = Field("", description="e.g. 'e-mail, weekdays 09-17'")


class CredentialHandover(Strict):
    """One secret to hand over, named by the variable that holds it, never by its value."""

    variable: EnvName
    handed_by: Slug = Field(description="id of the contact who hands it over")
    confirmed_by: str = Field(
        "", description="how the incoming side confirms it works, e.g. 'test login by …'"
    )


class Transition(Strict):
    incoming: IncomingProvider | None = None
    pager_moves: BinderDate | None = Field(None, description="the day the incoming side is paged")
    outgoing: list[OutgoingPerson] = Field(default_factory=list)
    credentials: list[CredentialHandover] = Field(default_factory=list)
