"""Generic outgoing JSON webhook: every alert line, outcome, notice and paper trade, one POST each.

The request (documented in docs/delivery.md, which a receiver can implement against)::

    POST <VIRTUOSO_WEBHOOK__URL>
    Content-Type: application/json
    X-Virtuoso-Delivery: <outbox key, the same on a retry: deduplicate on it>
    X-Virtuoso-Timestamp: <ms since the epoch when the request was signed>
    X-Virtuoso-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with VIRTUOSO_WEBHOOK__SECRET>

    {"type": "alert" | "outcome" | "feed_gap" | "heartbeat" | "trade", "seq": 42, "key": "...",
     "ts_ms": 1700000000456, "data": {...the alert line, outcome, notice or trade...}}

The signature header is sent only when a secret is set; signing the timestamp with the body lets
a receiver refuse replays of an old request. Answers: any 2xx is accepted; 429 waits
``Retry-After`` (seconds or an HTTP date); 408 and 5xx are retried with backoff and jitter; other
4xx are final (recorded ``failed`` with the answer's first 200 characters). Bodies are at most
256 KiB (an alert line is about 2 KiB). Lines raised on warm-up history are not sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from email.utils import parsedate_to_datetime
from typing import Any, Awaitable, Callable

import httpx

from virtuoso.alerting.outbox import Outbox, OutboxItem
from virtuoso.sinks.http_retry import HttpSender, SendResult, TransientError, non_negative_float
from virtuoso.sinks.redact import protect

log = logging.getLogger(__name__)

SINK = "webhook"
BODY_MAX_BYTES = 256 * 1024
SIGNATURE_HEADER = "X-Virtuoso-Signature"
ROUND_PAUSE_MIN_S = 2.0
ROUND_PAUSE_MAX_S = 120.0


def redact_url(url: str) -> str:
    """Scheme and host only: the path and query of a webhook URL often carry a token."""
    u = httpx.URL(url)
    return f"{u.scheme}://{u.host}{':' + str(u.port) if u.port else ''}/********"


def sign(secret: str, ts_ms: int, body: bytes) -> str:
    """``sha256=<hex>`` over ``"<ts_ms>.<body>"``."""
    mac = hmac.new(secret.encode(), str(int(ts_ms)).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def envelope(item: OutboxItem) -> dict[str, Any]:
    kind = item.kind if item.kind != "notice" else str(item.payload.get("type") or "notice")
    return {"type": kind, "seq": item.seq, "key": item.key, "ts_ms": item.created_ms, "data": item.payload}


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    seconds = non_negative_float(value)
    if seconds is not None:
        return seconds
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _classify(resp: httpx.Response, sender: HttpSender) -> SendResult:
    status = resp.status_code
    if 200 <= status < 300:
        return SendResult(True, status)
    if status == 429:
        wait = _retry_after(resp.headers.get("Retry-After"))
        raise sender.rate_limit_hit(1.0 if wait is None else wait, "webhook")
    text = (resp.text or resp.reason_phrase or "")[:200]
    if status >= 500 or status == 408:
        raise TransientError(f"{status} {text}")
    return SendResult(False, status, f"{status} {text}", permanent=True)


class WebhookSink:
    """Drains the outbox to one JSON webhook, in order, one item per request."""

    name = SINK
    kinds = ("alert", "outcome", "notice", "trade")

    def __init__(self, url: str, secret: str | None, outbox: Outbox, *, timeout_s: float = 10.0,
                 max_attempts: int = 6, transport: httpx.AsyncBaseTransport | None = None,
                 sleep: Callable[[float], Awaitable[None]] | None = None) -> None:
        self._url = url
        self._secret = secret
        self.redacted_url = redact_url(url)
        protect(url, self.redacted_url)
        if secret:
            protect(secret)
        kw: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        self._sender = HttpSender(_classify, scrub=lambda t: t.replace(url, self.redacted_url), timeout_s=timeout_s,
                                  max_attempts=max_attempts, transport=transport, **kw)
        self.outbox = outbox
        self.wake = asyncio.Event()
        self.stopping = False
        self.state = "idle"
        self.backlog = 0
        self.sent = 0
        self.failed = 0
        self.history = 0
        self.last_error: str | None = None
        self._pause_s = ROUND_PAUSE_MIN_S

    async def aclose(self) -> None:
        await self._sender.aclose()

    def health(self) -> dict[str, Any]:
        return {"state": self.state, "backlog": self.backlog, "sent": self.sent, "failed": self.failed,
                "history": self.history, "last_error": self.last_error, "url": self.redacted_url,
                "signed": bool(self._secret), "requests": self._sender.requests,
                "rate_limited": self._sender.rate_limited}

    def request_parts(self, item: OutboxItem, ts_ms: int) -> tuple[bytes, dict[str, str]]:
        """The body and headers of one item's request (signed when a secret is set)."""
        body = json.dumps(envelope(item), separators=(",", ":"), default=str).encode()
        headers = {"Content-Type": "application/json", "X-Virtuoso-Delivery": item.key,
                   "X-Virtuoso-Timestamp": str(int(ts_ms))}
        if self._secret:
            headers[SIGNATURE_HEADER] = sign(self._secret, ts_ms, body)
        return body, headers

    async def run(self) -> None:
        while True:
            items = self.outbox.pending(SINK, 100)
            self.backlog = self.outbox.backlog(SINK)
            if not items:
                if self.stopping:
                    return
                if self.state != "error":
                    self.state = "idle"
                self.wake.clear()
                try:
                    await asyncio.wait_for(self.wake.wait(), 1.0)
                except asyncio.TimeoutError:
                    pass
                continue
            for it in items:
                if it.kind not in self.kinds or it.history:
                    self.outbox.mark(SINK, [it.key], "history" if it.history else "skipped")
                    self.history += int(it.history)
                    continue
                if not await self._send(it):
                    if self.stopping:
                        return
                    break

    async def _send(self, it: OutboxItem) -> bool:
        body, headers = self.request_parts(it, int(time.time() * 1000))
        if len(body) > BODY_MAX_BYTES:
            self._fail(it.key, f"body of {len(body)} bytes exceeds {BODY_MAX_BYTES}", permanent=True)
            return True
        self.state = "sending"
        result = await self._sender.send("POST", self._url, pace_key="webhook", content=body, headers=headers)
        if result.ok:
            self.outbox.mark(SINK, [it.key], "sent")
            self.sent += 1
            self.state = "ok"
            self._pause_s = ROUND_PAUSE_MIN_S
            return True
        self._fail(it.key, result.error or "unknown error", result.permanent)
        if result.permanent:
            return True
        self.state = "retry-wait"
        end = time.monotonic() + self._pause_s
        while not self.stopping and time.monotonic() < end:
            await asyncio.sleep(min(0.2, end - time.monotonic()))
        self._pause_s = min(ROUND_PAUSE_MAX_S, self._pause_s * 2)
        return False

    def _fail(self, key: str, error: str, permanent: bool) -> None:
        self.last_error = error
        if permanent:
            self.outbox.mark(SINK, [key], "failed", error)
            self.failed += 1
            self.state = "error"
            log.error("webhook rejected %s, not retried: %s", key, error)
        else:
            self.outbox.mark_retry(SINK, [key], error)
            self.state = "retrying"
            log.warning("webhook delivery failed, will retry: %s", error)
