"""Secrets never reach a log: every log record of the process is scrubbed where it is made.

httpx logs each request line at INFO, URL included, and a Discord webhook or a Telegram bot token
*is* part of the URL; websockets logs each frame at DEBUG, and a relay subscription carries its
token; an exception's text may quote a URL. So scrubbing is not left to particular loggers or to
the application's handlers: :func:`install` wraps the process's log record factory, and every
record, from any library at any level, has each registered secret replaced in its message, its
formatted exception and its stack before any handler (a file, the console, pytest's caplog, the
engine's error buffer) sees it. A filter doing the same sits on the root handlers that
:func:`virtuoso.app.logging_setup.configure_logging` makes, for records built without the factory
(``logging.makeLogRecord``).

What is registered: every secret in the settings (:func:`protect_settings`, with the forms a
library may print: URL-quoted, a webhook URL's token path segment, basic-auth base64), and what a
sink adds (:func:`protect`). Whatever is registered, webhook URL token paths
(``/api/webhooks/<id>/<token>``) and Telegram bot paths (``/bot<id>:<token>``) are masked by
pattern. Our own code never logs a URL at all.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from typing import Any, Iterator
from urllib.parse import quote, quote_plus, urlsplit

from pydantic import BaseModel, SecretStr

MASK = "********"
_MIN_SECRET_LEN = 4  # a shorter value would mask ordinary words all over the log
_WEBHOOK_PATH = re.compile(r"(/api(?:/v\d+)?/webhooks/[^/?#\s\"']+/)[^/?#\s\"']+")
_BOT_PATH = re.compile(r"/bot\d+:[A-Za-z0-9_-]+")


class SecretScrubber(logging.Filter):
    """Replaces each registered secret, and any webhook or bot token path, with a mask."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: dict[str, str] = {}
        self._ordered: tuple[tuple[str, str], ...] = ()

    def add(self, secret: str, shown: str = MASK) -> None:
        if secret and len(secret) >= _MIN_SECRET_LEN:
            with self._lock:
                self._secrets[secret] = shown
                # Longest first: a URL is replaced whole before its token would be.
                self._ordered = tuple(sorted(self._secrets.items(), key=lambda kv: -len(kv[0])))

    def scrub(self, text: str) -> str:
        # Token paths by shape first: a registered secret that is an ordinary word ("hook", the
        # last segment of a generic webhook URL) must not break the shape before it is matched.
        if "webhooks/" in text:
            text = _WEBHOOK_PATH.sub(lambda m: m.group(1) + MASK, text)
        if "/bot" in text:
            text = _BOT_PATH.sub("/bot" + MASK, text)
        for secret, shown in self._ordered:
            if secret in text:
                text = text.replace(secret, shown)
        return text

    def scrub_record(self, record: logging.LogRecord) -> None:
        """Scrub the record in place: message (args folded in), exception text, stack."""
        try:
            msg = record.getMessage()
        except Exception:  # a broken format string: keep the raw text, still scrubbed
            msg = str(record.msg)
        clean = self.scrub(msg)
        if clean != msg or not isinstance(record.msg, str):
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            # Formatted here, once, so no handler formats the raw exception later.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)

    def filter(self, record: logging.LogRecord) -> bool:
        self.scrub_record(record)
        return True


SCRUBBER = SecretScrubber()
_install_lock = threading.Lock()
_installed = False


def install() -> None:
    """Scrub every log record of this process from now on (idempotent)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        make = logging.getLogRecordFactory()

        def scrubbed_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = make(*args, **kwargs)
            SCRUBBER.scrub_record(record)
            return record

        logging.setLogRecordFactory(scrubbed_record)
        _installed = True


def protect(secret: str, shown: str = MASK) -> None:
    """Never let ``secret`` appear in a log record of this process (shown as ``shown`` instead)."""
    install()
    for form in _forms(secret):
        SCRUBBER.add(form, shown if form == secret else MASK)


def _forms(secret: str) -> Iterator[str]:
    """The secret and the ways a library may print it: URL-quoted, and a URL's path token."""
    yield secret
    yield quote(secret, safe="")
    yield quote_plus(secret)
    parts = urlsplit(secret)
    if parts.scheme in ("http", "https", "ws", "wss") and parts.netloc:
        segment = parts.path.rstrip("/").rsplit("/", 1)[-1]
        if segment:
            yield segment
            yield quote(segment, safe="")
        if parts.password:
            yield parts.password


def _secrets_of(model: BaseModel) -> Iterator[tuple[BaseModel, str, SecretStr]]:
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            yield model, name, value
        elif isinstance(value, BaseModel):
            yield from _secrets_of(value)


def protect_settings(settings: BaseModel) -> None:
    """Register every secret of the settings (and basic-auth forms of user/password pairs)."""
    for section, name, secret in _secrets_of(settings):
        value = secret.get_secret_value()
        protect(value)
        user = getattr(section, "username", None)
        if name == "password" and isinstance(user, str) and user:
            protect(base64.b64encode(f"{user}:{value}".encode()).decode())
        if name == "bot_token" and ":" in value:  # "<bot id>:<secret>": the secret half alone is the key
            protect(value.split(":", 1)[1])
