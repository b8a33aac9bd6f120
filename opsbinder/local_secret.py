"""A key taken from an environment variable, else generated once and kept in a 0600 file.

So a feature that needs a key (signing audit anchors, the web session) works without anyone
inventing one, and an operator who wants the key elsewhere (a vault, another host) sets the
variable instead.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from opsbinder import environment


def local_secret(env_name: str, path: Path, environ: Mapping[str, str] | None = None) -> str:
    environ = environment.variables(environ)
    value = environ.get(env_name)
    if value:
        return value
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: theirs is the key
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
        handle.flush()
        os.fsync(handle.fileno())
    return value
