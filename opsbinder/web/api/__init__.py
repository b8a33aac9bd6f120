"""The JSON API (/api/v1): the console's actions for scripts and integrations.

Bearer tokens carry scopes; a token tied to a client sees only that client's incidents,
procedures and status (anything else is a 404, exactly as if it did not exist). There is no PUT,
PATCH or DELETE: updates and timelines are append-only. What a token may do is decided by
`opsbinder.authorization`, the same rule the console obeys.
"""

from fastapi import APIRouter

from opsbinder.web.api import incidents, procedures, status, updates
from opsbinder.web.api.answers import EVERY_ROUTE

router = APIRouter(prefix="/api/v1", tags=["api"], responses=EVERY_ROUTE)
# updates first: POST .../updates would otherwise be read as an incident action's {verb}
for module in (updates, incidents, procedures, status):
    router.include_router(module.router)

__all__ = ["router"]
