"""Secrets never reach a log: a filter on the HTTP libraries' loggers scrubs every known secret.

httpx logs each request line at INFO, URL included, and a Discord webhook or a Telegram bot token
*is* part of the URL. Every sink that puts a secret in a URL registers it here
(:func:`protect`), and the filter rewrites any record of those loggers that contains it, at any
level, whatever the application's logging set-up. Our own code never logs a URL at all.
"""

from __future__ import annotations

import logging
import threading

# Loggers that may print a request URL. A logger's filters only see records created on that very
# logger (not its children's), so each one is named.
HTTP_LOGGERS = ("httpx", "httpcore", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy")


class SecretScrubber(logging.Filter):
    """Replaces each registered secret in a record's message with its redacted form."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: dict[str, str] = {}

    def add(self, secret: str, shown: str) -> None:
        if secret and len(secret) >= 4:
            with self._lock:
                self._secrets[secret] = shown

    def scrub(self, text: str) -> str:
        with self._lock:
            pairs = sorted(self._secrets.items(), key=lambda kv: -len(kv[0]))
        for secret, shown in pairs:
            if secret in text:
                text = text.replace(secret, shown)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # a broken format string: keep the raw text, still scrubbed
            msg = str(record.msg)
        clean = self.scrub(msg)
        if clean != msg:
            record.msg, record.args = clean, ()
        return True


SCRUBBER = SecretScrubber()
_installed = False
_install_lock = threading.Lock()


def protect(secret: str, shown: str = "********") -> None:
    """Never let ``secret`` appear in the HTTP libraries' log records (shown as ``shown`` instead)."""
    global _installed
    SCRUBBER.add(secret, shown)
    with _install_lock:
        if not _installed:
            for name in HTTP_LOGGERS:
                logging.getLogger(name).addFilter(SCRUBBER)
            _installed = True
