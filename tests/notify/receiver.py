"""A real webhook receiver on 127.0.0.1 that can fail on purpose, verifies Standard Webhooks
signatures with the `standardwebhooks` package (as a receiver in the wild would: timestamp
tolerance included), drops a webhook-id it has accepted before, and counts everything."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from opsbinder.clock import Clock

TOLERANCE = timedelta(minutes=5)  # as the reference verifiers have it


class Receiver:
    def __init__(
        self, secret: str | None = None, port: int = 0, clock: Clock | None = None
    ) -> None:
        self.secret = secret
        self.clock = clock
        self.fail_with: int | None = None  # answer this status instead of 200
        self.posts: Counter[str] = Counter()  # every POST per key, failed ones included
        self.accepted: dict[str, dict[str, Any]] = {}  # first accepted body per key
        self.duplicates: Counter[str] = Counter()  # accepted again: dropped by key
        self.bad_signatures = 0
        self.refusals: list[str] = []  # why each bad signature was refused
        self.requests: list[tuple[dict[str, str], bytes]] = []  # as received, to replay
        self.arrivals: list[float] = []  # perf_counter of each first acceptance
        self.accepted_at: dict[str, float] = {}  # wall clock (time.time()) per key, to compare
        # with another process's timestamps
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = port
        self.start()

    def verifies(self, body: bytes, headers: dict[str, str]) -> bool:
        """The reference verifier; against the test's frozen clock when one is given (the
        package itself only knows the wall clock)."""
        hook = Webhook(str(self.secret))
        try:
            if self.clock is None:
                hook.verify(body, headers)
                return True
            lower = {k.lower(): v for k, v in headers.items()}
            at = datetime.fromtimestamp(int(lower.get("webhook-timestamp") or 0), UTC)
            if abs(at - self.clock.now()) > TOLERANCE:
                raise WebhookVerificationError("timestamp outside the tolerance")
            expected = hook.sign(lower.get("webhook-id") or "", at, body.decode())
            if expected not in (lower.get("webhook-signature") or "").split(" "):
                raise WebhookVerificationError("No matching signature found")
        except WebhookVerificationError as exc:
            self.refusals.append(str(exc))
            return False
        return True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def do_POST(self) -> None:
                import time

                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = self.headers.get("webhook-id") or ""
                status = 200
                with receiver._lock:
                    receiver.posts[key] += 1
                    receiver.requests.append((dict(self.headers.items()), body))
                    if receiver.fail_with is not None:
                        status = receiver.fail_with
                    elif receiver.secret is not None and not receiver.verifies(
                        body, dict(self.headers.items())
                    ):
                        receiver.bad_signatures += 1
                        status = 401
                    elif key in receiver.accepted:
                        receiver.duplicates[key] += 1
                    else:
                        receiver.accepted[key] = json.loads(body) if body else {}
                        receiver.arrivals.append(time.perf_counter())
                        receiver.accepted_at[key] = time.time()
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"nope")

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Down: connections are refused until start() again (same port)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
