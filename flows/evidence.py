"""The monthly evidence flow (flows/registry.py): every client's previous month as a pack.

A client whose pack could not be built (no Chromium for the PDF, a broken binder) ends the run
Failed with one line naming it; the other clients' packs are built and sent all the same, and
the next run (or `opsbinder evidence`) builds the missing one.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.client.schemas.objects import State
from prefect.states import Failed

from flows import expected_failures
from flows.registry import EVIDENCE
from tasks.evidence import publish_packs

expected_failures.keep_out_of_the_log()


@flow(name=EVIDENCE.flow.name, description=EVIDENCE.flow.description)
def evidence(pdf: bool = True) -> list[dict[str, Any]] | State[Any]:
    done = publish_packs(pdf)
    failed = [f"{p['client']} {p['month']}: {p['error']}" for p in done if p["error"]]
    if failed:
        return Failed(message="; ".join(failed), data=done)
    return done
