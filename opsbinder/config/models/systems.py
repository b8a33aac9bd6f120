"""What procedures act on: databases, paths, backup locations, software inventories."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from opsbinder.config.models.base import EnvName, Slug, Strict
from opsbinder.config.models.durations import Duration
from opsbinder.config.models.timing import BinderDate


class DatabaseSystem(Strict):
    id: Slug
    type: Literal["database"]
    description: str = ""
    url_env: EnvName


class PathSystem(Strict):
    id: Slug
    type: Literal["filesystem"]
    description: str = ""
    path: str


class BackupLocation(Strict):
    id: Slug
    type: Literal["backup_location"]
    description: str = ""
    path: str
    pattern: str = "*"


class SoftwareItem(Strict):
    product: str
    version: str
    end_of_support: BinderDate | None = None
    patch_cadence: Duration | None = None
    last_patched: BinderDate | None = None
    owner: Slug | None = None


class SoftwareInventory(Strict):
    id: Slug
    type: Literal["software_inventory"]
    description: str = ""
    items: list[SoftwareItem] = Field(min_length=1)


System = Annotated[
    DatabaseSystem | PathSystem | BackupLocation | SoftwareInventory,
    Field(discriminator="type"),
]
SYSTEM_TYPES = ("database", "filesystem", "backup_location", "software_inventory")
