"""Notification channels: each one sends one outbox message or raises DeliveryError."""

from __future__ import annotations

from opsbinder.errors import ExitCode, OpsbinderError


class DeliveryError(OpsbinderError):
    """This attempt failed; the outbox retries it later."""

    exit_code = ExitCode.UNREACHABLE
