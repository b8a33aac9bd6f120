"""The narrow reads of the stored binder that the minutely sweep makes instead of validating
whole definitions: they must mean what the binder's own models mean (same types, same
defaults), or the watch and the escalation would decide on other values than a run does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from opsbinder.binder_store import EscalationTerms, ProcedureTiming, procedure_timing
from opsbinder.config.loader import load_binder
from opsbinder.config.models import (
    ArchiveProcedure,
    BackupCheckProcedure,
    ClientBinder,
    CustomProcedure,
    DiskCheckProcedure,
    ManualProcedure,
    PurgeProcedure,
    UpdateReminderProcedure,
)
from opsbinder.sync import procedure_definition

KINDS = (
    PurgeProcedure,
    ArchiveProcedure,
    BackupCheckProcedure,
    DiskCheckProcedure,
    UpdateReminderProcedure,
    ManualProcedure,
    CustomProcedure,
)


def _same_fields(narrow: type[BaseModel], full: type[BaseModel]) -> None:
    for name, field in narrow.model_fields.items():
        theirs = full.model_fields[name]
        assert (field.annotation, field.metadata) == (theirs.annotation, theirs.metadata), name
        assert field.is_required() == theirs.is_required(), name
        if not field.is_required():
            assert field.get_default(call_default_factory=True) == theirs.get_default(
                call_default_factory=True
            ), name


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_it_reads_a_procedures_timing_as_the_procedure_model_does(kind: type[BaseModel]) -> None:
    _same_fields(ProcedureTiming, kind)


def test_it_reads_a_clients_escalation_terms_as_the_binder_model_does() -> None:
    _same_fields(EscalationTerms, ClientBinder)


def test_it_takes_the_same_values_out_of_every_stored_example_definition(
    example_dir: Path,
) -> None:
    binder = load_binder(example_dir)
    procedures = [p for cb in binder.clients for p in cb.procedures]
    assert procedures
    for proc in procedures:
        timing = procedure_timing(procedure_definition(proc))
        assert (timing.schedule, timing.grace, timing.timeout) == (
            proc.schedule,
            proc.grace,
            proc.timeout,
        ), proc.id
    for cb in binder.clients:
        stored: dict[str, Any] = cb.model_dump(mode="json", by_alias=True, exclude={"procedures"})
        terms = EscalationTerms.model_validate(stored)
        assert (terms.client, terms.oncall_schedules, terms.contract) == (
            cb.client,
            cb.oncall_schedules,
            cb.contract,
        )
