"""Fixtures of the misuse suite, shared with the web tests rather than copied: two clients in
the store with staff, tokens and an open Severity-1 incident each; the app on a real port."""

from __future__ import annotations

from tests.web.conftest import (  # noqa: F401  (fixtures, registered by import)
    _cheap_password_hashing,
    app,
    launched,
    live_server,
    web,
    world,
)
