"""The daily housekeeping flow (flows/registry.py): opsbinder's store, then Prefect's database.

A table the plan guard refused ends the run Failed with one line naming it: nothing of it was
deleted, and a person decides (`opsbinder housekeeping --dry-run`, then `--approve`).
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.client.schemas.objects import State
from prefect.states import Failed

from flows import expected_failures
from flows.registry import HOUSEKEEPING
from opsbinder.housekeeping import Refusals
from tasks.housekeeping import trim_prefect_runs, trim_store

expected_failures.keep_out_of_the_log()


@flow(name=HOUSEKEEPING.flow.name, description=HOUSEKEEPING.flow.description)
def housekeeping(dry_run: bool = False, approve: bool = False) -> dict[str, Any] | State[Any]:
    done = {
        "store": trim_store(dry_run, approve),
        "prefect": trim_prefect_runs(dry_run),
    }
    refused = {
        name: shelf["refused"]
        for name, shelf in done["store"]["store"].items()
        if "refused" in shelf
    }
    if refused:
        ended = Refusals(refused)
        return Failed(message=str(ended), data=ended)
    return done
