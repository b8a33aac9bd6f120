"""Fixtures of the misuse suite, shared with the web tests rather than copied: two clients in
the store with staff, tokens and an open Severity-1 incident each; the app on a real port.
From the procedure tests: two clients' scratch databases; from the handover tests: the example
client in the store."""

from __future__ import annotations

from tests.handover.conftest import loaded  # noqa: F401
from tests.procedures.conftest import client_db, make_ctx, other_client_db  # noqa: F401
from tests.web.conftest import (  # noqa: F401  (fixtures, registered by import)
    _cheap_password_hashing,
    app,
    launched,
    live_server,
    web,
    world,
)
