"""A Discord-compatible webhook receiver on 127.0.0.1 for tests and benchmarks (a real HTTP server).

``POST /api/webhooks/{id}/{token}`` behaves like Discord's Execute Webhook:

- 204 on success, with ``X-RateLimit-Limit/Remaining/Reset-After/Bucket`` headers from a per-webhook
  bucket (``bucket_limit`` requests per ``bucket_reset_s``);
- 429 when the bucket is empty: JSON ``{"message", "retry_after" (float s), "global": false}``, a
  ``Retry-After`` header and the rate-limit headers;
- 400 with Discord's JSON error shape (``code`` 50035 "Invalid Form Body" and an ``errors`` tree)
  when a documented limit is broken: content 2000; at most 10 embeds; title 256; description
  4096; at most 25 fields; field name 256 / value 1024 (both required); footer 2048; author 256;
  all embed text 6000 (counted in UTF-16 units as Discord does); 50006 for an empty message;
- 404 ``{"message": "Unknown Webhook", "code": 10015}`` for an unknown webhook;
- injected faults: the next N requests answer 500, 429 or drop the connection without a response
  (``inject``), or a seeded random mix of them (``fault_rate``).

Accepted payloads are recorded in ``received`` with their arrival time (``time.perf_counter``).
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LIMITS = {"content": 2000, "embeds": 10, "title": 256, "description": 4096, "fields": 25, "field_name": 256,
          "field_value": 1024, "footer": 2048, "author": 256, "total": 6000}
_PATH = re.compile(r"^/api(?:/v\d+)?/webhooks/([^/?]+)/([^/?]+)")


def _u16(s: Any) -> int:
    s = s if isinstance(s, str) else ""
    return len(s.encode("utf-16-le")) // 2


def _err(code: str, message: str) -> dict[str, Any]:
    return {"_errors": [{"code": code, "message": message}]}


def validate(payload: Any) -> dict[str, Any] | None:
    """Discord's ``errors`` tree for a payload breaking a documented limit, or None if it is fine."""
    if not isinstance(payload, dict):
        return {"_errors": [{"code": "DICT_TYPE_CONVERT", "message": "Only dictionaries may be used in a DictType"}]}
    errors: dict[str, Any] = {}
    if _u16(payload.get("content")) > LIMITS["content"]:
        errors["content"] = _err("BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
    embeds = payload.get("embeds") or []
    if len(embeds) > LIMITS["embeds"]:
        errors["embeds"] = _err("BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
        return errors
    emb_errors: dict[str, Any] = {}
    total = 0
    for i, e in enumerate(embeds):
        ee: dict[str, Any] = {}
        for key, lim in (("title", "title"), ("description", "description")):
            n = _u16(e.get(key))
            total += n
            if n > LIMITS[lim]:
                ee[key] = _err("BASE_TYPE_MAX_LENGTH", f"Must be {LIMITS[lim]} or fewer in length.")
        for key, sub, lim in (("footer", "text", "footer"), ("author", "name", "author")):
            n = _u16((e.get(key) or {}).get(sub))
            total += n
            if n > LIMITS[lim]:
                ee[key] = {sub: _err("BASE_TYPE_MAX_LENGTH", f"Must be {LIMITS[lim]} or fewer in length.")}
        fields = e.get("fields") or []
        if len(fields) > LIMITS["fields"]:
            ee["fields"] = _err("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        fe: dict[str, Any] = {}
        for j, f in enumerate(fields):
            one: dict[str, Any] = {}
            for key, lim in (("name", "field_name"), ("value", "field_value")):
                n = _u16(f.get(key))
                total += n
                if n == 0:
                    one[key] = _err("BASE_TYPE_REQUIRED", "This field is required")
                elif n > LIMITS[lim]:
                    one[key] = _err("BASE_TYPE_MAX_LENGTH", f"Must be {LIMITS[lim]} or fewer in length.")
            if one:
                fe[str(j)] = one
        if fe:
            ee.setdefault("fields", {}).update(fe)
        if ee:
            emb_errors[str(i)] = ee
    if emb_errors:
        errors["embeds"] = emb_errors
    elif total > LIMITS["total"]:
        errors["embeds"] = _err("MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
    return errors or None


@dataclass
class Received:
    t: float  # time.perf_counter() at arrival
    webhook: str
    payload: dict[str, Any]


@dataclass
class _Bucket:
    window_start: float = 0.0
    used: int = 0


@dataclass
class DiscordReceiver:
    """Run with ``with DiscordReceiver() as r:``; ``r.url`` is a working webhook URL."""

    webhooks: tuple[str, ...] = ("1234567890/token-abc",)
    bucket_limit: int = 1000
    bucket_reset_s: float = 1.0
    fault_rate: float = 0.0  # probability that a request gets a random fault (500, 429 or a drop)
    fault_retry_after_s: float = 0.05
    seed: int = 1
    received: list[Received] = field(default_factory=list)
    responses: list[tuple[float, int]] = field(default_factory=list)  # (perf_counter, status; 0 = dropped)
    rejected: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: deque[tuple[str, float]] = deque()
        self._buckets: dict[str, _Bucket] = {}
        self._rng = random.Random(self.seed)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ control

    def __enter__(self) -> "DiscordReceiver":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> "DiscordReceiver":
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return self.url_for(self.webhooks[0])

    def url_for(self, webhook: str) -> str:
        return f"http://127.0.0.1:{self.port}/api/webhooks/{webhook}"

    def inject(self, kind: str, n: int = 1, retry_after_s: float = 0.05) -> None:
        """The next ``n`` requests get ``kind``: ``500``, ``429`` (with ``retry_after_s``) or ``drop``."""
        with self._lock:
            self._faults.extend([(kind, retry_after_s)] * n)

    def payloads(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.payload for r in self.received]

    # ------------------------------------------------------------------ behaviour

    def _decide(self, webhook: str) -> tuple[str, float]:
        """('ok'|'500'|'429'|'drop'|'bucket', retry_after) for one request."""
        with self._lock:
            if self._faults:
                return self._faults.popleft()
            if self.fault_rate and self._rng.random() < self.fault_rate:
                return self._rng.choice(["500", "429", "drop"]), self.fault_retry_after_s
            now = time.monotonic()
            b = self._buckets.setdefault(webhook, _Bucket(now, 0))
            if now - b.window_start >= self.bucket_reset_s:
                b.window_start, b.used = now, 0
            if b.used >= self.bucket_limit:
                return "bucket", b.window_start + self.bucket_reset_s - now
            b.used += 1
            return "ok", 0.0

    def _headers(self, webhook: str) -> dict[str, str]:
        with self._lock:
            b = self._buckets.get(webhook) or _Bucket(time.monotonic(), 0)
            reset_after = max(0.0, b.window_start + self.bucket_reset_s - time.monotonic())
            return {"X-RateLimit-Limit": str(self.bucket_limit),
                    "X-RateLimit-Remaining": str(max(0, self.bucket_limit - b.used)),
                    "X-RateLimit-Reset-After": f"{reset_after:.3f}",
                    "X-RateLimit-Bucket": "b" + str(abs(hash(webhook)) % 10**8)}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _reply(self, status: int, body: dict[str, Any] | None, headers: dict[str, str] | None = None) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                with receiver._lock:  # recorded before the client can see the answer
                    receiver.responses.append((time.perf_counter(), status))
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                m = _PATH.match(self.path)
                webhook = f"{m.group(1)}/{m.group(2)}" if m else ""
                if webhook not in receiver.webhooks:
                    self._reply(404, {"message": "Unknown Webhook", "code": 10015})
                    return
                kind, retry_after = receiver._decide(webhook)
                if kind == "drop":
                    self.close_connection = True
                    with receiver._lock:
                        receiver.responses.append((time.perf_counter(), 0))
                    return
                if kind == "500":
                    self._reply(500, {"message": "500: Internal Server Error", "code": 0})
                    return
                if kind in ("429", "bucket"):
                    headers = receiver._headers(webhook)
                    headers["Retry-After"] = str(max(1, int(retry_after + 0.999)))
                    headers["X-RateLimit-Scope"] = "user"
                    if kind == "429":
                        headers["X-RateLimit-Remaining"] = "0"
                        headers["X-RateLimit-Reset-After"] = f"{retry_after:.3f}"
                    self._reply(429, {"message": "You are being rate limited.", "retry_after": round(retry_after, 3),
                                      "global": False}, headers)
                    return
                try:
                    payload = json.loads(raw or b"null")
                except ValueError:
                    self._reply(400, {"message": "Cannot send an empty message", "code": 50006})
                    return
                if isinstance(payload, dict) and not payload.get("content") and not payload.get("embeds"):
                    self._reply(400, {"message": "Cannot send an empty message", "code": 50006})
                    return
                errors = validate(payload)
                if errors:
                    body = {"code": 50035, "errors": errors, "message": "Invalid Form Body"}
                    with receiver._lock:
                        receiver.rejected.append((400, body))
                    self._reply(400, body, receiver._headers(webhook))
                    return
                with receiver._lock:
                    receiver.received.append(Received(time.perf_counter(), webhook, payload))
                self._reply(204, None, receiver._headers(webhook))

        return Handler
