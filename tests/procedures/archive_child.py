"""The archiving process the crash test kills: `python -m tests.procedures.archive_child`.

Runs the archive procedure of tests.procedures.conftest against CLIENT_DB_URL into ARCHIVE_DIR,
with OPSBINDER_TEST_CRASH_AT (if set) telling the code where to SIGKILL itself, and prints the
result as JSON.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime

from opsbinder.clock import FrozenClock
from opsbinder.config.models import DatabaseSystem
from opsbinder.procedures import archive
from opsbinder.procedures.context import ProcedureContext
from opsbinder.store.db import make_engine
from tests.procedures.conftest import URL_ENV, archive_proc

if __name__ == "__main__":
    archive.DELETE_CHUNK = int(os.environ.get("ARCHIVE_DELETE_CHUNK", archive.DELETE_CHUNK))
    ctx = ProcedureContext(
        client_id="nordhafen",
        procedure_id="archive-tracking-events",
        clock=FrozenClock(datetime(2026, 3, 20, 10, 0, tzinfo=UTC)),
        store=make_engine(os.environ["OPSBINDER_DATABASE_URL"]),
    )
    proc = archive_proc(batch_size=int(sys.argv[1]), format=sys.argv[2], compression=sys.argv[3])
    result = archive.run(ctx, proc, DatabaseSystem(id="tms-db", type="database", url_env=URL_ENV))
    print(
        json.dumps({"status": result.status, "summary": result.summary, "metrics": result.metrics})
    )
