"""The machine-readable binder, regenerated from the store's definitions.

The store holds what actually runs (the definitions last loaded), so the handover writes that,
not whatever YAML folder happens to be on this machine. The files use the binder's usual layout
and its short duration forms, so `load_binder` (and `opsbinder binder import`) reads them back
into exactly the same models.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import yaml

from opsbinder.config.models import ClientBinder
from opsbinder.handover.words import short_duration

# file name -> the sections it holds (the same split as config/example/)
FILES: dict[str, tuple[str, ...]] = {
    "client.yaml": ("client", "contacts", "stakeholders", "webhooks", "components"),
    "systems.yaml": ("systems",),
    "procedures.yaml": ("procedures",),
    "escalation.yaml": ("escalation_policies",),
    "oncall.yaml": ("oncall_schedules",),
    "calendar.yaml": ("maintenance_windows", "holidays"),
    "contract.yaml": ("contract",),
    "monitoring.yaml": ("events", "heartbeats"),
    "transition.yaml": ("transition",),
}
SECTION_FILE = {section: name for name, sections in FILES.items() for section in sections}


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)
_Dumper.add_representer(
    timedelta, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", short_duration(v))
)
_Dumper.add_representer(
    time, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", v.isoformat("minutes"))
)
_Dumper.add_representer(UUID, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", str(v)))
_Dumper.add_representer(
    datetime, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", v.isoformat())
)


def dump(data: Any) -> str:
    """YAML as the binder is written: short durations, "HH:MM" times, ISO instants."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True)


def sections(binder: ClientBinder) -> dict[str, Any]:
    """The binder as plain data; values equal to their defaults are left out, as people write it."""
    return binder.model_dump(mode="python", by_alias=True, exclude_defaults=True)


def write_yaml(binder: ClientBinder, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    data = sections(binder)
    data["client"] = binder.client.model_dump(mode="python", exclude_defaults=True)
    written: list[Path] = []
    for name, wanted in FILES.items():
        part = {key: data[key] for key in wanted if data.get(key)}
        if not part:
            continue
        path = folder / name
        header = f"# {binder.client.name}: {', '.join(part)} (regenerated from the store)\n"
        path.write_text(
            header + yaml.dump(part, Dumper=_Dumper, sort_keys=False, allow_unicode=True),
            encoding="utf-8",
        )
        written.append(path)
    return written
