"""Schema-based fuzzing of the JSON API with schemathesis: no input makes it answer 500.

Every operation of the served OpenAPI document gets generated requests (bounded, so the suite
stays fast) with a valid all-scope staff token, and again with a client-scoped one.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

MAX_EXAMPLES = 8


def fuzz_operation(operation: Any, headers: dict[str, str], failures: list[str]) -> None:
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def fuzz(case: Any) -> None:
        response = case.call(headers=headers)
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path} {case.body!r}")
        assert response.status_code < 500

    with contextlib.suppress(AssertionError):  # collected; go on with the other operations
        fuzz()


@pytest.mark.slow
def test_it_never_answers_500_to_generated_requests(app, world):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    failures: list[str] = []
    for token in (world.api_staff, world.api_b):
        for operation in operations:
            fuzz_operation(operation, {"Authorization": f"Bearer {token}"}, failures)
    assert failures == []
