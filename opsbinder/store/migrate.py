"""Schema upgrades through Alembic, for the CLI, the main job and the tests alike."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from opsbinder.errors import StoreError

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine) -> list[str]:
    """Bring the store to the newest schema; returns the revisions now applied."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "heads")
    except OperationalError as exc:
        raise unreachable(engine, exc) from exc
    return current_heads(engine)


def current_heads(engine: Engine) -> list[str]:
    try:
        with engine.connect() as connection:
            return sorted(MigrationContext.configure(connection).get_current_heads())
    except OperationalError as exc:  # a user's wrong URL or a server that is down
        raise unreachable(engine, exc) from exc


def unreachable(engine: Engine, exc: DBAPIError) -> StoreError:
    """One line, password hidden: drivers spread a refusal over several ("Is the server ...")."""
    reason = " ".join(str(exc.orig if exc.orig is not None else exc).split())
    return StoreError(f"cannot reach the store at {engine.url!r}: {reason}")


def pending(engine: Engine) -> list[str]:
    """Every revision not applied yet (not only the heads: a store at 0001 lacks each branch)."""
    script = ScriptDirectory.from_config(alembic_config(str(engine.url)))
    heads = current_heads(engine)
    applied = (
        {r.revision for r in script.iterate_revisions(tuple(heads), "base")} if heads else set()
    )
    return sorted({r.revision for r in script.walk_revisions()} - applied)
