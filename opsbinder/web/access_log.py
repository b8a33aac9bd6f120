"""No token in a log: the access log's URLs with secret query values and path keys blanked.

A status page link carries its token in `?token=` (a client bookmarks it, a feed reader polls
it), a monitoring tool that cannot send a header puts its integration key in the path
(`/alertmanager/<key>`), and a heartbeat's ping URL is its own secret (`/ping/<uuid>`).
uvicorn's access log writes every request's path and query, so every visit would put them into
a file that operators share, ship and keep. The filter rewrites the record before any handler
formats it, whatever the handler or log format.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote_plus

SECRET_PARAMETERS = frozenset({"token", "access_token", "key", "secret", "password"})
SECRET_PATH_PREFIXES = ("/alertmanager/", "/ping/")  # the next path segment is a key
REDACTED = "[redacted]"
_URL_ARG = 2  # uvicorn's access record: (client, method, path with query, http version, status)


def redact_url(target: str) -> str:
    """The path with the value of every secret query parameter replaced, however its name is
    %-escaped (the app reads `?tok%65n=` as `token`) or cased."""
    path, mark, query = target.partition("?")
    for prefix in SECRET_PATH_PREFIXES:
        if path.startswith(prefix) and len(path) > len(prefix):
            _, slash, rest = path[len(prefix) :].partition("/")
            path = f"{prefix}{REDACTED}{slash}{rest}"
    if not mark:
        return path
    pairs = []
    for pair in query.split("&"):
        name, equals, _ = pair.partition("=")
        secret = unquote_plus(name).strip().lower() in SECRET_PARAMETERS
        pairs.append(f"{name}={REDACTED}" if secret and equals else pair)
    return f"{path}?{'&'.join(pairs)}"


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        url = args[_URL_ARG] if isinstance(args, tuple) and len(args) > _URL_ARG else None
        if isinstance(args, tuple) and isinstance(url, str):
            record.args = (*args[:_URL_ARG], redact_url(url), *args[_URL_ARG + 1 :])
        return True


def install() -> None:
    """On uvicorn's access logger, once per process (every worker makes its own app)."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactSecrets) for f in logger.filters):
        logger.addFilter(RedactSecrets())
