"""`opsbinder web`: the status pages, the operations console and the JSON API."""

from __future__ import annotations

import typer

from opsbinder.cli import common
from opsbinder.settings import get_settings


def register(app: typer.Typer) -> None:
    app.command("web")(web)


def web(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8080, min=1, max=65535, help="port to listen on"),
    workers: int = typer.Option(1, min=1, max=64, help="uvicorn worker processes"),
) -> None:
    """Serve the web app with uvicorn (the store is migrated first)."""
    import uvicorn

    common.store()  # migrate before the first request, and fail early on a bad database URL
    from opsbinder.web.security import web_secret

    web_secret()  # generated once under OPSBINDER_HOME unless OPSBINDER_WEB_SECRET is set
    trusted = get_settings().trusted_proxies
    common.console.print(f"opsbinder web on http://{host}:{port}/ (console: /login)")
    uvicorn.run(
        "opsbinder.web.app:create_served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # X-Forwarded-For/-Proto (the address the sign-in throttle counts, the scheme that
        # makes cookies Secure) are believed only from the proxies the settings name
        proxy_headers=trusted is not None,
        forwarded_allow_ips=trusted,
        log_level="info",
    )
