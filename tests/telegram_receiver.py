"""A Telegram Bot API server on 127.0.0.1 for tests (a real HTTP server), after
https://core.telegram.org/bots/api: ``POST /bot<token>/<method>`` with JSON, form or
multipart/form-data parameters, answers ``{"ok": true, "result": ...}`` or ``{"ok": false,
"error_code", "description"[, "parameters"]}``.

- ``sendMessage`` (``chat_id``, ``text`` of 1-4096 characters after entities parsing, ``parse_mode``
  HTML with Telegram's tags only), ``editMessageText`` (``message_id`` of a text message; "message
  is not modified" when nothing changes, "message to edit not found" otherwise), ``sendPhoto``
  (a ``photo`` file of at most 10 MB that is a PNG or JPEG, ``caption`` 0-1024 characters,
  ``reply_parameters``), ``getMe``;
- 401 Unauthorized for a wrong token, 404 for an unknown method, 400 "chat not found";
- flood control per chat: more than ``chat_limit`` requests within ``chat_window_s`` answer 429
  "Too Many Requests: retry after N" with ``parameters.retry_after`` = N whole seconds;
- faults on demand: ``inject("500" | "429" | "drop", n)``.
"""

from __future__ import annotations

import html
import json
import math
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from tests.loopback_http import LoopbackServer
from tests.multipart_form import FormError, parse_form

TEXT_MAX, CAPTION_MAX, PHOTO_MAX_BYTES = 4096, 1024, 10 * 1024 * 1024
ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "code", "pre", "a", "tg-spoiler",
                "blockquote", "span"}
_PATH = re.compile(r"^/bot([^/]+)/([A-Za-z]+)$")


class _Entities(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.error: str | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag not in ALLOWED_TAGS and self.error is None:
            self.error = f"Bad Request: can't parse entities: Unsupported start tag \"{tag}\""

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def visible(text: str, parse_mode: str | None) -> tuple[str, str | None]:
    """The text after entities parsing, and the parse error if any."""
    if (parse_mode or "").upper() != "HTML":
        return text, None
    p = _Entities()
    p.feed(text)
    p.close()
    return html.unescape("".join(p.text)), p.error


def u16(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


@dataclass
class Call:
    t: float
    method: str
    params: dict[str, Any]
    photo: bytes | None = None


@dataclass
class TgMessage:
    message_id: int
    chat_id: str
    text: str | None = None
    caption: str | None = None
    photo: bytes | None = None
    reply_to: int | None = None
    edits: int = 0


class _Refused(Exception):
    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


@dataclass
class TelegramReceiver(LoopbackServer):
    token: str = "123456:ABC-secret-bot-token"
    chat_id: str = "-1001234567890"
    chat_limit: int = 30
    chat_window_s: float = 1.0
    calls: list[Call] = field(default_factory=list)
    responses: list[tuple[float, int]] = field(default_factory=list)
    messages: dict[int, TgMessage] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: deque[str] = deque()
        self._recent: deque[float] = deque()
        self._next_id = 100


    @property
    def api_url(self) -> str:
        return self.base_url

    def inject(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self._faults.extend([kind] * n)

    def of(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    # ------------------------------------------------------------------ behaviour

    def _flood(self) -> None:
        now = time.monotonic()
        while self._recent and now - self._recent[0] >= self.chat_window_s:
            self._recent.popleft()
        if len(self._recent) >= self.chat_limit:
            wait = max(1, math.ceil(self.chat_window_s - (now - self._recent[0])))
            raise _Refused(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        self._recent.append(now)

    def _text(self, params: dict[str, Any], key: str, lo: int, hi: int) -> str:
        raw = str(params.get(key) or "")
        shown, error = visible(raw, params.get("parse_mode"))
        if error:
            raise _Refused(400, error)
        n = u16(shown.strip())
        if n < lo:
            raise _Refused(400, f"Bad Request: {'message text is empty' if key == 'text' else 'caption is empty'}")
        if n > hi:
            raise _Refused(400, f"Bad Request: {'message is too long' if key == 'text' else 'message caption is too long'}")
        return shown

    def _apply(self, method: str, params: dict[str, Any], photo: bytes | None) -> dict[str, Any]:
        if method == "getMe":
            return {"id": 123456, "is_bot": True, "first_name": "Virtuoso"}
        if str(params.get("chat_id")) != self.chat_id:
            raise _Refused(400, "Bad Request: chat not found")
        with self._lock:
            self._flood()
        if method == "sendMessage":
            text = self._text(params, "text", 1, TEXT_MAX)
            with self._lock:
                self._next_id += 1
                msg = TgMessage(self._next_id, self.chat_id, text=text)
                self.messages[msg.message_id] = msg
        elif method == "editMessageText":
            text = self._text(params, "text", 1, TEXT_MAX)
            with self._lock:
                msg = self.messages.get(int(params.get("message_id") or 0))
                if msg is None or msg.text is None:
                    raise _Refused(400, "Bad Request: message to edit not found")
                if msg.text == text:
                    raise _Refused(400, "Bad Request: message is not modified: specified new message content and "
                                        "reply markup are exactly the same as a current content and reply markup of the message")
                msg.text, msg.edits = text, msg.edits + 1
        elif method == "sendPhoto":
            if photo is None:
                raise _Refused(400, "Bad Request: there is no photo in the request")
            if len(photo) > PHOTO_MAX_BYTES:
                raise _Refused(400, "Bad Request: file is too big")
            if not (photo.startswith(b"\x89PNG\r\n\x1a\n") or photo.startswith(b"\xff\xd8")):
                raise _Refused(400, "Bad Request: IMAGE_PROCESS_FAILED")
            caption = self._text(params, "caption", 0, CAPTION_MAX)
            reply = params.get("reply_parameters")
            reply_to = None
            if reply:
                rp = json.loads(reply) if isinstance(reply, str) else reply
                reply_to = int(rp.get("message_id"))
                if reply_to not in self.messages and not rp.get("allow_sending_without_reply"):
                    raise _Refused(400, "Bad Request: message to be replied not found")
            with self._lock:
                self._next_id += 1
                msg = TgMessage(self._next_id, self.chat_id, caption=caption, photo=photo, reply_to=reply_to)
                self.messages[msg.message_id] = msg
        else:
            raise _Refused(404, "Not Found")
        out: dict[str, Any] = {"message_id": msg.message_id, "date": int(time.time()),
                               "chat": {"id": int(self.chat_id), "type": "supergroup"}}
        if msg.text is not None:
            out["text"] = msg.text
        if msg.photo is not None:
            out["photo"] = [{"file_id": f"f{msg.message_id}", "width": 800, "height": 560, "file_size": len(msg.photo)}]
            out["caption"] = msg.caption
        return out

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        rx = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle on, the second waits for the
            # client's delayed ACK (40 ms). Real APIs answer at once.
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                with rx._lock:
                    rx.responses.append((time.perf_counter(), status))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                m = _PATH.match(self.path)
                if m is None or m.group(1) != rx.token:
                    self._reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                    return
                with rx._lock:
                    fault = rx._faults.popleft() if rx._faults else None
                if fault == "drop":
                    self.close_connection = True
                    with rx._lock:
                        rx.responses.append((time.perf_counter(), 0))
                    return
                if fault == "500":
                    self._reply(500, {"ok": False, "error_code": 500, "description": "Internal Server Error"})
                    return
                if fault == "429":
                    self._reply(429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
                                      "parameters": {"retry_after": 1}})
                    return
                ctype = self.headers.get("Content-Type") or ""
                photo = None
                try:
                    if ctype.startswith("application/json"):
                        params = json.loads(raw or b"{}")
                    elif ctype.startswith("multipart/form-data"):
                        params = {}
                        for part in parse_form(ctype, raw):
                            if part.filename is not None:
                                photo = part.data if part.name == "photo" else photo
                            else:
                                params[part.name] = part.data.decode()
                    else:
                        params = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                    result = rx._apply(m.group(2), params, photo)
                except _Refused as exc:
                    body = {"ok": False, "error_code": exc.code, "description": exc.description}
                    if exc.parameters:
                        body["parameters"] = exc.parameters
                    self._reply(exc.code, body)
                    return
                except (ValueError, FormError) as exc:
                    self._reply(400, {"ok": False, "error_code": 400, "description": f"Bad Request: {exc}"})
                    return
                with rx._lock:
                    rx.calls.append(Call(time.perf_counter(), m.group(2), params, photo))
                self._reply(200, {"ok": True, "result": result})

        return Handler
