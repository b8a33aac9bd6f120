"""Cookies marked Secure whenever the browser reached us over HTTPS.

Over HTTPS a cookie without Secure would still be sent over plain HTTP to the same host, where
anyone on the path can read it. The request is HTTPS when its scheme says so: uvicorn believes
X-Forwarded-Proto only from the `trusted_proxies` setting's addresses. When TLS ends somewhere
that does not say so, the `secure_cookies` setting marks every cookie Secure regardless.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _secured(header: tuple[bytes, bytes]) -> tuple[bytes, bytes]:
    name, value = header
    if name.lower() != b"set-cookie" or b"secure" in value.lower().split(b"; "):
        return header
    return name, value + b"; Secure"


class SecureCookies:
    def __init__(self, app: ASGIApp, *, always: bool) -> None:
        self.app = app
        self.always = always

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not (self.always or scope.get("scheme") == "https"):
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [_secured(header) for header in message.get("headers", [])]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_secured)
