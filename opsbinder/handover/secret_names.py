"""The environment variables a binder names: where its secrets live, and all a successor sets.

The export lists them, redacts their values from every page, and the transition's credential
checklist must cover each one (opsbinder/handover/transition.py).
"""

from __future__ import annotations

import re
from typing import Any

from opsbinder.config.models import ClientBinder

_VAR = re.compile(r"\$\{(\w+)\}|\$([A-Z_][A-Z0-9_]*)")


def env_names(binder: ClientBinder) -> list[tuple[str, list[str]]]:
    """Every environment variable the binder names, and where: these hold the secrets."""
    found: dict[str, list[str]] = {}

    def walk(node: Any, label: str) -> None:
        if isinstance(node, dict):
            here = node.get("id") if isinstance(node.get("id"), str) else None
            for key, value in node.items():
                where = here or label
                if isinstance(value, str) and (key.endswith("_env") or key == "url_env"):
                    found.setdefault(value, []).append(f"{where}.{key}")
                else:
                    walk(value, where)
        elif isinstance(node, list):
            for item in node:
                walk(item, label)
        elif isinstance(node, str):
            for match in _VAR.finditer(node):
                found.setdefault(match.group(1) or match.group(2), []).append(label)

    walk(binder.model_dump(mode="json", by_alias=True), binder.client.id)
    return sorted((name, sorted(set(users))) for name, users in found.items())
