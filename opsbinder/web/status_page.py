"""The client status page and its Atom feed.

Reached with the client's token as a link (`/status/<client>?token=...`): the token is checked,
remembered in the signed session cookie (by token id, so revoking it takes effect at once) and the
browser is redirected to the bare URL so the token does not linger in history or referrers. A
wrong client, an unknown token and a client that does not exist all answer the same 404, so a
token for one client learns nothing about another.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from opsbinder.accounts import resolve_token
from opsbinder.clock import utc
from opsbinder.evidence.monthly import FILES, folder, published_packs
from opsbinder.incidents.status_updates import xml_safe
from opsbinder.reports.report import Month
from opsbinder.store.db import read_scope, session_scope
from opsbinder.store.models import AccessToken, Client
from opsbinder.web import sessions
from opsbinder.web.deps import DB, clock_of
from opsbinder.web.page_cache import Rendered
from opsbinder.web.page_render import render_kept
from opsbinder.web.status_data import StatusPage, status_page

router = APIRouter(include_in_schema=False)
NOT_HERE = "There is no status page at this address, or the link has expired."


def _token_for(session: Session, request: Request, token: str | None, client_id: str) -> bool:
    clock = clock_of(request)
    if token and _link_token(session, request, token, client_id):
        return True
    remembered = request.session.get("status", {}).get(client_id)
    if remembered is None:
        return False
    row = session.get(AccessToken, int(remembered))
    now = utc(clock.now())
    return (
        row is not None
        and row.client_id == client_id
        and row.revoked_at is None
        and (row.expires_at is None or utc(row.expires_at) > now)
    )


def _link_token(session: Session, request: Request, token: str, client_id: str) -> bool:
    """Whether `token` itself (not the cookie) opens this client's page: only then is it
    written into links, so a reader's links never carry a token that opens nothing."""
    row = resolve_token(session, clock_of(request), token)
    return row is not None and row.client_id == client_id and "status:read" in row.scopes


def _allowed(session: Session, request: Request, token: str | None, client_id: str) -> bool:
    return (
        _token_for(session, request, token, client_id)
        or sessions.signed_in(request, session, clock_of(request)) is not None
    )


def _status_or_404(session: Session, request: Request, client_id: str) -> StatusPage:
    """The page's data; a client that is not (or no longer) there answers like a wrong token."""
    data = status_page(session, clock_of(request), client_id)
    if data is None:
        raise HTTPException(404, NOT_HERE)
    return data


@router.get("/status/{client_id}", response_class=HTMLResponse)
def page(
    request: Request, client_id: str, token: str | None = Query(None, max_length=200)
) -> Response:
    """A reader with the page's cookie is served from a read-only session: during an outage
    the page is reloaded while updates are written, and no reload waits for a writer's lock.
    Following a link and a signed-in member of staff write (the token's or session's last use)."""
    engine = request.app.state.engine
    if token:
        with session_scope(engine) as session:
            if not _allowed(session, request, token, client_id):
                raise HTTPException(404, NOT_HERE)
            row = resolve_token(session, clock_of(request), token)
            if row is not None and row.client_id == client_id:
                remembered = dict(request.session.get("status", {}))
                remembered[client_id] = row.id
                request.session["status"] = remembered
        return RedirectResponse(f"/status/{client_id}", status_code=303)
    with read_scope(engine) as session:
        if _token_for(session, request, None, client_id):
            return _send(session, request, client_id)
    with session_scope(engine) as session:
        if sessions.signed_in(request, session, clock_of(request)) is None:
            raise HTTPException(404, NOT_HERE)
    with read_scope(engine) as session:
        return _send(session, request, client_id)


def _send(session: Session, request: Request, client_id: str) -> Response:
    """The kept page (see page_cache): rendered here only when nothing keeps it yet."""
    template, clock = request.app.state.templates.get_template("status.html"), clock_of(request)

    def render(reading: Session) -> Rendered | None:
        """May run after this request has ended, in a session of its own (see page_cache)."""
        return render_kept(reading, clock, template, client_id)

    body = request.app.state.page_cache.page(session, client_id, render, utc(clock.now()))
    if body is None:
        raise HTTPException(404, NOT_HERE)
    return HTMLResponse(body, headers={"Cache-Control": "private, no-store"})


@router.get("/status/{client_id}/feed.atom")
def feed(
    request: Request,
    client_id: str,
    token: str | None = Query(None, max_length=200),
    session: Session = DB,
) -> Response:
    if not _allowed(session, request, token, client_id):
        raise HTTPException(404, NOT_HERE)
    data = _status_or_404(session, request, client_id)
    base = str(request.base_url).rstrip("/")
    # a feed reader has no cookie: its links carry the token it was given, so they open
    access = (
        f"?token={quote(token)}"
        if token and _link_token(session, request, token, client_id)
        else ""
    )
    body = request.app.state.templates.get_template("feed.xml").render(
        page=data,
        base=base,
        self_url=f"{base}/status/{client_id}/feed.atom{access}",
        page_url=f"{base}/status/{client_id}{access}",
    )
    return Response(xml_safe(body), media_type="application/atom+xml; charset=utf-8")


MEDIA = {".pdf": "application/pdf", ".html": "text/html; charset=utf-8",
         ".json": "application/json", ".sha256": "text/plain; charset=utf-8"}  # fmt: skip


@router.get("/status/{client_id}/evidence/{month}/{name}")
def evidence_file(
    request: Request,
    client_id: str,
    month: str,
    name: str,
    token: str | None = Query(None, max_length=200),
    session: Session = DB,
) -> Response:
    """A file of a complete evidence pack, by the page's own rule: another client's token, an
    unknown month or file, and a pack not (yet) complete all answer the page's 404."""
    if not _allowed(session, request, token, client_id) or session.get(Client, client_id) is None:
        raise HTTPException(404, NOT_HERE)
    offered = dict(published_packs(client_id, limit=1000))
    if name not in FILES or name not in offered.get(month, ()):
        raise HTTPException(404, NOT_HERE)
    path = folder(client_id, Month.parse(month)) / name
    return FileResponse(
        path,
        media_type=MEDIA[path.suffix],
        filename=f"{client_id}-{month}-{name}",
        content_disposition_type="inline",
        headers={"Cache-Control": "private, no-store"},
    )
