"""A receiver for Virtuoso's generic JSON webhook on 127.0.0.1 (a real HTTP server), as documented in
docs/delivery.md: ``POST`` JSON only, at most 256 KiB (413), ``X-Virtuoso-Delivery`` on every
request, and with a secret an ``X-Virtuoso-Signature: sha256=<hex>`` over ``"<timestamp>.<body>"``
whose ``X-Virtuoso-Timestamp`` is within 5 minutes (401 otherwise). 2xx accepts; faults on demand:
500, 429 with ``Retry-After`` (seconds), 400, or a dropped connection (``inject``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.loopback_http import LoopbackServer

BODY_MAX_BYTES = 256 * 1024
TOLERANCE_MS = 300_000


@dataclass
class Delivery:
    t: float
    key: str
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class WebhookReceiver(LoopbackServer):
    secret: str | None = None
    path: str = "/hooks/virtuoso/s3cr3t-path-token"
    received: list[Delivery] = field(default_factory=list)
    responses: list[tuple[float, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: deque[tuple[str, str]] = deque()


    @property
    def url(self) -> str:
        return self.base_url + self.path

    def inject(self, kind: str, n: int = 1, retry_after: str = "1") -> None:
        """The next ``n`` requests answer ``500``, ``429`` (with ``Retry-After``), ``400`` or ``drop``."""
        with self._lock:
            self._faults.extend([(kind, retry_after)] * n)

    def keys(self) -> list[str]:
        with self._lock:
            return [d.key for d in self.received]

    def _check(self, headers: Any, raw: bytes) -> int:
        if headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            return 415
        if len(raw) > BODY_MAX_BYTES:
            return 413
        if not headers.get("X-Virtuoso-Delivery"):
            return 400
        if self.secret is not None:
            ts, sig = headers.get("X-Virtuoso-Timestamp", ""), headers.get("X-Virtuoso-Signature", "")
            if not ts.isdigit() or abs(int(ts) - time.time() * 1000) > TOLERANCE_MS:
                return 401
            want = "sha256=" + hmac.new(self.secret.encode(), ts.encode() + b"." + raw, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(want, sig):
                return 401
        try:
            json.loads(raw)
        except ValueError:
            return 400
        return 200

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        rx = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle on, the second waits for the
            # client's delayed ACK (40 ms). Real APIs answer at once.
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, headers: dict[str, str] | None = None, text: str = "") -> None:
                data = text.encode()
                with rx._lock:
                    rx.responses.append((time.perf_counter(), status))
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path != rx.path:
                    self._reply(404, text="not found")
                    return
                with rx._lock:
                    fault = rx._faults.popleft() if rx._faults else None
                if fault is not None:
                    kind, retry_after = fault
                    if kind == "drop":
                        self.close_connection = True
                        with rx._lock:
                            rx.responses.append((time.perf_counter(), 0))
                        return
                    self._reply(int(kind), {"Retry-After": retry_after} if kind == "429" else None, f"fault {kind}")
                    return
                status = rx._check(self.headers, raw)
                if status == 200:
                    with rx._lock:
                        rx.received.append(Delivery(time.perf_counter(), self.headers["X-Virtuoso-Delivery"],
                                                    json.loads(raw), dict(self.headers)))
                    self._reply(200, text="ok")
                else:
                    self._reply(status, text=f"refused {status}")

        return Handler
