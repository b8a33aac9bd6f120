"""Which database an archive came from, so that recovery only ever acts on its own archives.

A manifest left by a killed run means "these rows may still be in the source: delete them".
That is only true in the database the rows were read from. Every manifest therefore names the
client, procedure and system, and the identity of the database itself: for PostgreSQL the
cluster's system identifier (fixed at initdb) and the database name; for SQLite the file's
resolved path and inode (a different file at the same path is a different database). A manifest
whose origin differs in anything is foreign: recovery leaves it and its rows alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from opsbinder.procedures.targets import TargetError

MANIFEST_VERSION = 2  # 2: the manifest names system and database; 1 had client and procedure


def database_identity(engine: Engine) -> dict[str, str]:
    """What makes this database this one, not a copy at another URL or another at this URL."""
    kind = engine.dialect.name
    try:
        with engine.connect() as conn:
            if kind == "postgresql":
                system_id, name = conn.execute(
                    text(
                        "SELECT (SELECT system_identifier FROM pg_control_system())::text, "
                        "current_database()"
                    )
                ).one()
                return {"kind": kind, "system_identifier": system_id, "database": name}
            if kind == "sqlite":
                file = conn.execute(
                    text("SELECT file FROM pragma_database_list WHERE name = 'main'")
                ).scalar()
                if not file:
                    raise TargetError("an in-memory SQLite database cannot hold archived rows")
                path = os.path.realpath(file)
                return {"kind": kind, "path": path, "inode": str(os.stat(path).st_ino)}
    except (SQLAlchemyError, OSError) as exc:
        raise TargetError(
            f"cannot read the identity of the client's database: {str(exc).splitlines()[0]}"
        ) from exc
    url = engine.url
    return {
        "kind": kind,
        "host": str(url.host or ""),
        "port": str(url.port or ""),
        "database": str(url.database or ""),
    }


@dataclass(frozen=True)
class Origin:
    client: str
    procedure: str
    system: str
    database: dict[str, str]
    schema: str | None
    table: str
    key_column: str | list[str]  # as manifests spell it: a name, or a list of names

    def manifest_fields(self) -> dict[str, Any]:
        return {
            "version": MANIFEST_VERSION,
            "client": self.client,
            "procedure": self.procedure,
            "system": self.system,
            "database": self.database,
            "schema": self.schema,
            "table": self.table,
            "key_column": self.key_column,
        }

    def owns(self, body: dict[str, Any], *, legacy: bool = False) -> bool:
        """Whether a manifest was written by this procedure from this very table.

        A manifest of the old layout (`legacy`, version 1) names no system or database; it is
        ours when client, procedure and table match, which its folder alone never proved.
        """
        same_table = (body.get("schema"), body.get("table"), body.get("key_column")) == (
            self.schema,
            self.table,
            self.key_column,
        )
        same_run = (body.get("client"), body.get("procedure")) == (self.client, self.procedure)
        if legacy and body.get("version", 1) == 1 and "database" not in body:
            return same_table and same_run
        return (
            same_table
            and same_run
            and body.get("system") == self.system
            and body.get("database") == self.database
        )
