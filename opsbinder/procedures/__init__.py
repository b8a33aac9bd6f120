"""The procedure kinds: plain functions that do the work, unit-testable without Prefect."""
