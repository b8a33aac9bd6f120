"""The archiving process the crash tests kill: `python -m tests.procedures.archive_child CLIENT
BATCH FORMAT COMPRESSION`.

Runs the archive procedure of tests.procedures.conftest for CLIENT against CLIENT_DB_URL into
ARCHIVE_DIR (with the params in ARCHIVE_PARAMS, JSON, if set) and prints the result as JSON. With KILL_AT set to "point" or "point:N", it first
installs archive.step_hook so that this process SIGKILLs itself the N-th time the archive
reaches that instant: a real kill of a real process, through the seam production leaves None.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections import Counter
from datetime import UTC, datetime

from opsbinder.clock import FrozenClock
from opsbinder.config.models import DatabaseSystem
from opsbinder.procedures import archive
from opsbinder.procedures.context import ProcedureContext
from opsbinder.store.db import make_engine
from tests.procedures.conftest import URL_ENV, archive_proc

KILL_AT = "KILL_AT"


def kill_at(spec: str) -> None:
    point, _, nth = spec.partition(":")
    reached: Counter[str] = Counter()

    def hook(name: str) -> None:
        reached[name] += 1
        if name == point and reached[name] >= int(nth or 1):
            os.kill(os.getpid(), signal.SIGKILL)

    archive.step_hook = hook


if __name__ == "__main__":
    if os.environ.get(KILL_AT):
        kill_at(os.environ[KILL_AT])
    archive.DELETE_CHUNK = int(os.environ.get("ARCHIVE_DELETE_CHUNK", archive.DELETE_CHUNK))
    client, batch, fmt, compression = sys.argv[1:5]
    ctx = ProcedureContext(
        client_id=client,
        procedure_id="archive-tracking-events",
        clock=FrozenClock(datetime(2026, 3, 20, 10, 0, tzinfo=UTC)),
        store=make_engine(os.environ["OPSBINDER_DATABASE_URL"]),
    )
    extra = json.loads(os.environ.get("ARCHIVE_PARAMS", "{}"))  # another table, key, mode
    proc = archive_proc(batch_size=int(batch), format=fmt, compression=compression, **extra)
    result = archive.run(ctx, proc, DatabaseSystem(id="tms-db", type="database", url_env=URL_ENV))
    print(
        json.dumps({"status": result.status, "summary": result.summary, "metrics": result.metrics})
    )
