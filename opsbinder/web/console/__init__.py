"""The operations console: signed-in staff see incidents and procedures and act on them.

Server-rendered and usable without JavaScript; every action goes through `opsbinder.actions`
with the signed-in user as principal, so the console and the API obey the same rule.
"""

from fastapi import APIRouter

from opsbinder.web.console import (
    declare,
    heartbeats,
    incidents,
    oncall,
    procedures,
    updates,
    zone,
)

router = APIRouter(include_in_schema=False)
# updates and declare first: their paths would otherwise be read as an incident action's {verb}
for module in (updates, declare, incidents, procedures, heartbeats, oncall, zone):
    router.include_router(module.router)

__all__ = ["router"]
