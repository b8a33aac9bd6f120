"""A real webhook receiver on 127.0.0.1 that can fail on purpose, dedups by Idempotency-Key,
checks the HMAC signature and counts everything."""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opsbinder.notify.webhook import SIGNATURE_HEADER, verify


class Receiver:
    def __init__(self, secret: str | None = None, port: int = 0) -> None:
        self.secret = secret
        self.fail_with: int | None = None  # answer this status instead of 200
        self.posts: Counter[str] = Counter()  # every POST per key, failed ones included
        self.accepted: dict[str, dict[str, Any]] = {}  # first accepted body per key
        self.duplicates: Counter[str] = Counter()  # accepted again: dropped by key
        self.bad_signatures = 0
        self.arrivals: list[float] = []  # perf_counter of each first acceptance
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = port
        self.start()

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
                key = self.headers.get("Idempotency-Key") or ""
                status = 200
                with receiver._lock:
                    receiver.posts[key] += 1
                    if receiver.fail_with is not None:
                        status = receiver.fail_with
                    elif receiver.secret is not None and not verify(
                        receiver.secret, body, self.headers.get(SIGNATURE_HEADER)
                    ):
                        receiver.bad_signatures += 1
                        status = 401
                    elif key in receiver.accepted:
                        receiver.duplicates[key] += 1
                    else:
                        receiver.accepted[key] = json.loads(body) if body else {}
                        receiver.arrivals.append(time.perf_counter())
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
