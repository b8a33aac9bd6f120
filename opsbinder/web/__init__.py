"""The web: client status pages, the operations console and the JSON API (one FastAPI app)."""

from opsbinder.web.app import create_app

__all__ = ["create_app"]
