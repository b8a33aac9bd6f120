"""Notification channels: each one sends one outbox message or raises DeliveryError."""

from __future__ import annotations

from collections.abc import Mapping


class DeliveryError(Exception):
    """This attempt failed; the outbox retries it later."""


def env_value(environ: Mapping[str, str], name: str, what: str) -> str:
    value = environ.get(name)
    if not value:
        raise DeliveryError(f"{what}: environment variable {name} is not set")
    return value
