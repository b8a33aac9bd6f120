"""The plan guard's bounds are inclusive: a plan of exactly max_rows, or exactly max_growth
times the usual amount, goes ahead; one row more is refused unless approved."""

from __future__ import annotations

import pytest

from opsbinder.procedures import plan_guard


@pytest.mark.parametrize(
    ("planned", "max_rows", "usual", "refused"),
    [
        (500, 500, None, False),
        (501, 500, None, True),
        (2000, None, 1000.0, False),  # exactly 2 x the usual
        (2001, None, 1000.0, True),
        (plan_guard.SMALL_PLAN, None, 10.0, False),  # small plans never trip the growth check
        (plan_guard.SMALL_PLAN + 1, None, 10.0, True),
    ],
)
def test_it_refuses_only_plans_beyond_its_bounds(planned, max_rows, usual, refused):
    verdict = plan_guard.check(
        planned, max_rows=max_rows, max_growth=2, usual=usual, approved=False
    )
    assert verdict.refused is refused
    approved = plan_guard.check(
        planned, max_rows=max_rows, max_growth=2, usual=usual, approved=True
    )
    assert not approved.refused
