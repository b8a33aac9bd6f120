"""The manager report's hand-worked month of history (tests/reports/conftest.py) serves the
evidence pack too: the same October 2026 of nordhafen."""

from tests.reports.conftest import history

__all__ = ["history"]
