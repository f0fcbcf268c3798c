"""A Discord-compatible webhook server on 127.0.0.1 for tests and benchmarks (a real HTTP server).

It keeps the messages it accepted, like Discord does, and implements
(https://discord.com/developers/docs/resources/webhook):

- Execute Webhook ``POST /api/webhooks/{id}/{token}``: 204 without ``wait``, 200 with the created
  message object (``id``, ``content``, ``embeds``, ``attachments``) with ``?wait=true``;
- Edit Webhook Message ``PATCH /api/webhooks/{id}/{token}/messages/{message_id}``: 200 with the
  edited message; fields present replace the old ones; ``attachments``, when present, is the whole
  list the message keeps (ids of kept attachments, indexes of files uploaded with the request);
  404 ``Unknown Message`` (code 10008) for a message this webhook did not post;
- Get Webhook with Token ``GET /api/webhooks/{id}/{token}`` and Get Webhook Message
  ``GET .../messages/{message_id}``;
- ``multipart/form-data`` bodies: ``payload_json`` plus ``files[n]`` parts, at most 10 files,
  each at most 10 MiB, the whole request at most 25 MiB (413, code 40005); every file must be
  described in ``attachments`` and every ``attachment://name`` in an embed must name an
  attachment the message has after the request (else 400, code 50035);
- Discord's message limits (content 2000; at most 10 embeds; title 256; description 4096; at
  most 25 fields; field name 256 / value 1024, both required; footer 2048; author 256; all embed
  text 6000, counted in UTF-16 units) with 400 and Discord's ``errors`` tree; 50006 for an empty
  message; 404 ``Unknown Webhook`` (code 10015);
- rate limits: one bucket per webhook shared by all its routes (``bucket_limit`` requests per
  ``bucket_reset_s``), ``X-RateLimit-Limit/Remaining/Reset-After/Bucket`` on every answer, 429
  with ``retry_after`` (float s), ``global: false`` and ``Retry-After`` when it is empty;
- faults on demand: the next N requests answer 500, 429 or drop the connection (``inject``), a
  seeded random mix (``fault_rate``), or requests of one method wait until released (``hold``).

``received`` lists the accepted requests (method, message id, payload, files) with their arrival
time (``time.perf_counter``); ``messages`` the messages as they stand.
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
from urllib.parse import parse_qs, urlparse

from tests.multipart_form import FormError, parse_form

LIMITS = {"content": 2000, "embeds": 10, "title": 256, "description": 4096, "fields": 25, "field_name": 256,
          "field_value": 1024, "footer": 2048, "author": 256, "total": 6000}
FILES_MAX = 10
FILE_MAX_BYTES = 10 * 1024 * 1024
REQUEST_MAX_BYTES = 25 * 1024 * 1024
_PATH = re.compile(r"^/api(?:/v\d+)?/webhooks/([^/?]+)/([^/?]+)(?:/messages/([^/?]+))?/?$")


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
    method: str = "POST"
    message_id: str | None = None
    files: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass
class Message:
    id: str
    webhook: str
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)  # with the file's bytes under "data"
    edits: int = 0


@dataclass
class _Bucket:
    window_start: float = 0.0
    used: int = 0


class _Refused(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message"))
        self.status, self.body = status, body


def _form_error(path: str, code: str, message: str) -> _Refused:
    return _Refused(400, {"code": 50035, "message": "Invalid Form Body", "errors": {path: _err(code, message)}})


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
    messages: dict[str, Message] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: deque[tuple[str, float]] = deque()
        self._buckets: dict[str, _Bucket] = {}
        self._rng = random.Random(self.seed)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._next_id = 1_100_000_000_000_000_000
        self._held: set[str] = set()
        self._release = threading.Event()
        self.holding = 0  # requests waiting in a hold right now

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
        self.release()
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

    def hold(self, method: str) -> None:
        """Requests of ``method`` (``PATCH``...) wait, unanswered, until :meth:`release`."""
        with self._lock:
            self._held.add(method.upper())
            self._release.clear()

    def release(self) -> None:
        with self._lock:
            self._held.clear()
        self._release.set()

    def payloads(self, method: str = "POST") -> list[dict[str, Any]]:
        with self._lock:
            return [r.payload for r in self.received if r.method == method]

    def of(self, method: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.method == method]

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

    def _read(self, content_type: str, raw: bytes) -> tuple[Any, list[tuple[str, bytes, str]]]:
        """(JSON payload, [(filename, bytes, content type)] by index) from a JSON or multipart body."""
        if len(raw) > REQUEST_MAX_BYTES:
            raise _Refused(413, {"message": "Request entity too large", "code": 40005})
        if not content_type.lower().startswith("multipart/"):
            try:
                return json.loads(raw or b"null"), []
            except ValueError:
                raise _Refused(400, {"message": "400: Bad Request", "code": 50109}) from None
        try:
            parts = parse_form(content_type, raw)
        except FormError as exc:
            raise _Refused(400, {"message": f"Invalid multipart body: {exc}", "code": 50035}) from None
        payload: Any = {}
        files: dict[int, tuple[str, bytes, str]] = {}
        for p in parts:
            m = re.fullmatch(r"files\[(\d+)\]", p.name)
            if p.name == "payload_json":
                try:
                    payload = json.loads(p.data)
                except ValueError:
                    raise _Refused(400, {"message": "payload_json is not JSON", "code": 50109}) from None
            elif m:
                if not p.filename:
                    raise _form_error(p.name, "BASE_TYPE_REQUIRED", "A file name is required")
                if len(p.data) > FILE_MAX_BYTES:
                    raise _Refused(413, {"message": "Request entity too large", "code": 40005})
                files[int(m.group(1))] = (p.filename, p.data, p.content_type)
        if len(files) > FILES_MAX:
            raise _form_error("files", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
        return payload, [files[i] for i in sorted(files)] if files else []

    def _attachments(self, msg: Message | None, payload: dict[str, Any], files: list[tuple[str, bytes, str]],
                     base_url: str) -> list[dict[str, Any]]:
        """The attachments the message has after the request (v10 semantics), or a refusal."""
        kept = list(msg.attachments) if msg is not None else []
        listed = payload.get("attachments")
        if files and listed is None:
            raise _form_error("attachments", "ATTACHMENT_REQUIRED", "Uploaded files must be described in attachments")
        if listed is None:
            return kept
        by_id = {a["id"]: a for a in kept}
        out = []
        for i, a in enumerate(listed):
            aid = str(a.get("id")) if isinstance(a, dict) else ""
            if aid.isdigit() and int(aid) < len(files) and aid not in by_id:  # a file uploaded with this request
                name, data, ctype = files[int(aid)]
                with self._lock:
                    self._next_id += 1
                    new_id = str(self._next_id)
                out.append({"id": new_id, "filename": a.get("filename") or name, "size": len(data),
                            "url": f"{base_url}/attachments/{new_id}/{name}", "content_type": ctype, "data": data})
            elif aid in by_id:
                out.append(by_id[aid])
            else:
                raise _form_error(f"attachments.{i}.id", "UNKNOWN_ATTACHMENT", f"Unknown attachment {aid!r}")
        return out

    @staticmethod
    def _resolve_images(embeds: list[dict[str, Any]], attachments: list[dict[str, Any]]) -> list[dict[str, Any]]:
        names = {a["filename"]: a["url"] for a in attachments}
        out = []
        for i, e in enumerate(embeds):
            e = dict(e)
            for key in ("image", "thumbnail"):
                url = (e.get(key) or {}).get("url")
                if isinstance(url, str) and url.startswith("attachment://"):
                    name = url[len("attachment://"):]
                    if name not in names:
                        raise _form_error(f"embeds.{i}.{key}.url", "UNRESOLVED_ATTACHMENT",
                                          f"attachment://{name} is not an attachment of the message")
                    e[key] = {"url": names[name], "proxy_url": names[name]}
            out.append(e)
        return out

    @staticmethod
    def message_json(msg: Message) -> dict[str, Any]:
        return {"id": msg.id, "type": 0, "content": msg.content, "embeds": msg.embeds, "webhook_id": msg.webhook.split("/")[0],
                "attachments": [{k: v for k, v in a.items() if k != "data"} for a in msg.attachments],
                "edited_timestamp": None if msg.edits == 0 else "2026-01-01T00:00:00+00:00"}

    def _apply(self, method: str, webhook: str, message_id: str | None, content_type: str, raw: bytes,
               base_url: str) -> Message:
        payload, files = self._read(content_type, raw)
        if not isinstance(payload, dict):
            raise _Refused(400, {"message": "Invalid Form Body", "code": 50035,
                                 "errors": {"_errors": [{"code": "DICT_TYPE_CONVERT", "message": "Only dictionaries"}]}})
        with self._lock:
            msg = self.messages.get(message_id) if message_id else None
        if method == "PATCH" and (msg is None or msg.webhook != webhook):
            raise _Refused(404, {"message": "Unknown Message", "code": 10008})
        errors = validate(payload)
        if errors:
            raise _Refused(400, {"code": 50035, "errors": errors, "message": "Invalid Form Body"})
        attachments = self._attachments(msg, payload, files, base_url)
        content = payload.get("content") if "content" in payload else (msg.content if msg else "")
        embeds = payload.get("embeds") if "embeds" in payload else (msg.embeds if msg else [])
        if method == "POST" and not content and not embeds and not attachments:
            raise _Refused(400, {"message": "Cannot send an empty message", "code": 50006})
        embeds = self._resolve_images(list(embeds or []), attachments)
        with self._lock:
            if msg is None:
                self._next_id += 1
                msg = Message(str(self._next_id), webhook)
                self.messages[msg.id] = msg
            else:
                msg.edits += 1
            msg.content, msg.embeds, msg.attachments = str(content or ""), embeds, attachments
            self.received.append(Received(time.perf_counter(), webhook, payload, method, msg.id,
                                          [(n, d) for n, d, _ in files]))
        return msg

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle on, the second waits for the
            # client's delayed ACK (40 ms). Real APIs answer at once.
            disable_nagle_algorithm = True

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
                self._handle("POST")

            def do_PATCH(self) -> None:  # noqa: N802
                self._handle("PATCH")

            def do_GET(self) -> None:  # noqa: N802
                self._handle("GET")

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                url = urlparse(self.path)
                m = _PATH.match(url.path)
                webhook = f"{m.group(1)}/{m.group(2)}" if m else ""
                message_id = m.group(3) if m else None
                get_webhook = method == "GET" and message_id is None
                if webhook not in receiver.webhooks or ((method != "POST") != (message_id is not None) and not get_webhook):
                    self._reply(404, {"message": "Unknown Webhook", "code": 10015})
                    return
                with receiver._lock:
                    held = method in receiver._held
                    receiver.holding += int(held)
                if held:
                    receiver._release.wait(120)
                    with receiver._lock:
                        receiver.holding -= 1
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
                if get_webhook:  # Get Webhook with Token
                    wid, token = webhook.split("/")
                    self._reply(200, {"id": wid, "type": 1, "name": "virtuoso-test", "channel_id": "1", "token": token,
                                      "application_id": None}, receiver._headers(webhook))
                    return
                if method == "GET":
                    with receiver._lock:
                        msg = receiver.messages.get(message_id or "")
                    if msg is None or msg.webhook != webhook:
                        self._reply(404, {"message": "Unknown Message", "code": 10008})
                    else:
                        self._reply(200, receiver.message_json(msg), receiver._headers(webhook))
                    return
                try:
                    msg = receiver._apply(method, webhook, message_id, self.headers.get("Content-Type") or "", raw,
                                          f"http://127.0.0.1:{receiver.port}")
                except _Refused as exc:
                    with receiver._lock:
                        receiver.rejected.append((exc.status, exc.body))
                    self._reply(exc.status, exc.body, receiver._headers(webhook))
                    return
                wait = parse_qs(url.query).get("wait", ["false"])[0].lower() == "true"
                if method == "POST" and not wait:
                    self._reply(204, None, receiver._headers(webhook))
                else:
                    self._reply(200, receiver.message_json(msg), receiver._headers(webhook))

        return Handler
