"""The baseline flow of bench/deploy_scale.py's burst: a bare Prefect flow doing nothing."""

from __future__ import annotations

from prefect import flow


@flow(name="bench-bare-noop")
def bare_noop() -> None:
    return None
