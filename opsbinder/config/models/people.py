"""The people of a binder: contacts, the stakeholders told about incidents, webhook channels."""

from __future__ import annotations

from pydantic import Field, model_validator

from opsbinder.config.models.base import EnvName, Severity, Slug, Strict, SupportLevel


class Contact(Strict):
    id: Slug
    name: str
    role: str = ""
    email: str | None = None
    phone: str | None = None
    chat: str | None = Field(None, description="apprise URL for chat, e.g. mmosts://...")
    webhook: str | None = Field(None, description="id of a webhook channel of the binder")
    support_level: SupportLevel | None = None
    staff: bool = Field(True, description="MSP staff (True) or client-side person (False)")


def _sev1_only() -> list[Severity]:
    return ["sev1"]


class Stakeholder(Strict):
    contact: Slug
    severities: list[Severity] = Field(default_factory=_sev1_only)
    account_executive: bool = False


class WebhookChannel(Strict):
    id: Slug
    url: str | None = None
    url_env: EnvName | None = None
    secret_env: EnvName | None = Field(None, description="variable holding the HMAC key")

    @model_validator(mode="after")
    def _one_url(self) -> WebhookChannel:
        if bool(self.url) == bool(self.url_env):
            raise ValueError("give exactly one of url or url_env")
        return self
