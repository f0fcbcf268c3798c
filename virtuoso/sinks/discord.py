"""Discord webhook sink: an async client that respects Discord's rate limits, and the outbox worker.

Client (``DiscordClient.post``), following https://discord.com/developers/docs/topics/rate-limits:

- connection errors, timeouts and 5xx: retried by tenacity with exponential backoff and jitter;
- 429: wait ``retry_after`` from the JSON body (float seconds) or the ``Retry-After`` header, then
  retry (global or per-route alike);
- proactive pacing: when ``X-RateLimit-Remaining`` reaches 0, the next request waits
  ``X-RateLimit-Reset-After`` seconds instead of provoking a 429;
- 400/401/403/404 and other 4xx: not retried; the result carries Discord's ``message``/``code``.

The webhook URL is a secret: it never appears in results, errors or health (see
:func:`redact_webhook`).

Worker (``DiscordSink``): drains the outbox in order. An alert that arrives after a quiet period
goes out at once as three embeds; alerts arriving within ``digest_window_s`` of the previous alert
message wait for the window to end and go out together as one digest. Paper trades go out one
message each. A message that exhausts its attempts stays pending and is retried in the next round
(growing pause), so a dead webhook never blocks the relay or the executor.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from virtuoso.alerting import discord_format as fmt
from virtuoso.alerting.outbox import Outbox, OutboxItem
from virtuoso.config import DiscordSettings
from virtuoso.domain.alerts import Alert
from virtuoso.domain.trades import PaperTradeEvent, PositionSide, TradeAction

log = logging.getLogger(__name__)

SINK = "discord"
ROUND_PAUSE_MIN_S = 2.0
ROUND_PAUSE_MAX_S = 120.0
MAX_RATE_WAIT_S = 300.0  # never sleep longer than this on one 429 (Discord has sent absurd values)


class TransientError(Exception):
    """Connection error, timeout or 5xx: worth retrying with backoff."""


class RateLimited(Exception):
    """429: retry after ``retry_after_s`` seconds."""

    def __init__(self, retry_after_s: float, message: str) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    status: int | None
    error: str | None = None
    permanent: bool = False
    attempts: int = 1


def redact_webhook(url: str) -> str:
    """``https://discord.com/api/webhooks/1234…/********``: enough to recognise, never enough to use."""
    m = re.match(r"^(https?://[^/]+)(/api(?:/v\d+)?/webhooks/)([^/?#]+)", url)
    if not m:
        host = re.match(r"^(https?://[^/]+)", url)
        return (host.group(1) if host else "webhook") + "/********"
    wid = m.group(3)
    return f"{m.group(1)}{m.group(2)}{wid[:4]}…/********"


def _float(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if f == f and f >= 0 else None


def _discord_message(resp: httpx.Response) -> str:
    """Discord's error body ``{"message": ..., "code": ...}`` as one short line."""
    try:
        body = resp.json()
    except ValueError:
        return (resp.text or resp.reason_phrase or "")[:200]
    if not isinstance(body, dict):
        return str(body)[:200]
    msg = str(body.get("message") or resp.reason_phrase)
    if body.get("code") is not None:
        msg += f" (code {body['code']})"
    if isinstance(body.get("errors"), dict):
        msg += ": " + ", ".join(sorted(body["errors"]))[:160]
    return msg[:300]


class DiscordClient:
    """Posts webhook payloads; ``transport`` and ``sleep`` are seams for tests and benchmarks."""

    def __init__(self, webhook_url: str, *, timeout_s: float = 10.0, max_attempts: int = 8,
                 backoff_initial_s: float = 0.5, backoff_max_s: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._url = webhook_url
        self.redacted_url = redact_webhook(webhook_url)
        self.max_attempts = max_attempts
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self._sleep = sleep
        self._http = httpx.AsyncClient(timeout=timeout_s, transport=transport)
        self._paced_until = 0.0
        self.requests = 0
        self.rate_limited = 0
        self.rate_waited_s = 0.0
        self.paced = 0

    async def aclose(self) -> None:
        await self._http.aclose()

    def _scrub(self, text: str) -> str:
        return text.replace(self._url, self.redacted_url)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, RateLimited):
            return min(exc.retry_after_s, MAX_RATE_WAIT_S)
        exp = self.backoff_initial_s * 2 ** max(0, state.attempt_number - 1)
        return min(self.backoff_max_s, exp) + random.uniform(0, self.backoff_initial_s)

    async def post(self, payload: dict[str, Any]) -> SendResult:
        """Send one message with retries; never raises for HTTP or network trouble."""
        attempts = 0
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.max_attempts), wait=self._wait, sleep=self._sleep,
                retry=retry_if_exception_type((TransientError, RateLimited)), reraise=True,
            ):
                with attempt:
                    attempts += 1
                    result = await self._once(payload)
            return SendResult(result.ok, result.status, result.error, result.permanent, attempts)
        except RateLimited as exc:
            return SendResult(False, 429, self._scrub(str(exc)), False, attempts)
        except TransientError as exc:
            return SendResult(False, None, self._scrub(str(exc)), False, attempts)

    async def _once(self, payload: dict[str, Any]) -> SendResult:
        delay = self._paced_until - time.monotonic()
        if delay > 0:
            self.paced += 1
            await self._sleep(min(delay, MAX_RATE_WAIT_S))
        self.requests += 1
        try:
            resp = await self._http.post(self._url, json=payload)
        except httpx.TimeoutException as exc:
            raise TransientError(f"timeout: {type(exc).__name__}") from None
        except httpx.TransportError as exc:
            raise TransientError(f"connection error: {type(exc).__name__}: {self._scrub(str(exc))[:200]}") from None
        self._pace(resp)
        status = resp.status_code
        if 200 <= status < 300:
            return SendResult(True, status)
        if status == 429:
            retry_after = None
            try:
                body = resp.json()
                if isinstance(body, dict):
                    retry_after = _float(body.get("retry_after"))
            except ValueError:
                pass
            if retry_after is None:
                retry_after = _float(resp.headers.get("Retry-After"))
            retry_after = 1.0 if retry_after is None else retry_after
            self.rate_limited += 1
            self.rate_waited_s += retry_after
            self._paced_until = max(self._paced_until, time.monotonic() + retry_after)
            raise RateLimited(retry_after, f"429 rate limited: retry after {retry_after:.3f} s")
        if status >= 500:
            raise TransientError(f"{status} {_discord_message(resp)}")
        return SendResult(False, status, f"{status} {_discord_message(resp)}", permanent=True)

    def _pace(self, resp: httpx.Response) -> None:
        remaining = _float(resp.headers.get("X-RateLimit-Remaining"))
        reset_after = _float(resp.headers.get("X-RateLimit-Reset-After"))
        if remaining is not None and remaining < 1 and reset_after is not None:
            self._paced_until = max(self._paced_until, time.monotonic() + reset_after)


class DiscordSink:
    """Delivers the outbox to Discord: alerts (single or digest) and paper trades, in order."""

    name = SINK

    def __init__(self, settings: DiscordSettings, client: DiscordClient, outbox: Outbox,
                 context: Callable[[str], tuple[Any, float | None, bool]],
                 is_muted: Callable[[Alert], bool] | None = None) -> None:
        """``context(symbol) -> (snapshot or None, composite score or None, simulated)``.

        ``is_muted(alert)``: the dashboard's mutes; a muted alert is recorded as ``muted`` for this
        sink and not sent (the relay and the store still get it).
        """
        self.settings = settings
        self.client = client
        self.outbox = outbox
        self.context = context
        self.is_muted = is_muted
        self.muted = 0
        self.wake = asyncio.Event()
        self.stopping = False
        self.state = "idle"
        self.sent = 0
        self.failed = 0
        self.messages = 0
        self.digests = 0
        self.last_error: str | None = None
        self.last_error_ms: int | None = None
        self.backlog = 0
        self._last_alert_send = -1e18
        self._round_pause_s = ROUND_PAUSE_MIN_S

    def health(self) -> dict[str, Any]:
        return {
            "state": self.state, "backlog": self.backlog, "sent": self.sent, "failed": self.failed,
            "messages": self.messages, "digests": self.digests, "muted": self.muted, "last_error": self.last_error,
            "last_error_ms": self.last_error_ms, "webhook": self.client.redacted_url,
            "requests": self.client.requests, "rate_limited": self.client.rate_limited,
            "rate_waited_s": round(self.client.rate_waited_s, 3), "paced": self.client.paced,
        }

    async def _idle(self, timeout_s: float) -> None:
        self.wake.clear()
        try:
            await asyncio.wait_for(self.wake.wait(), timeout_s)
        except asyncio.TimeoutError:
            pass

    async def run(self) -> None:
        """Drain until stopped; during stop, keep going only while there is work (caller bounds it)."""
        while True:
            items = self.outbox.pending(SINK, fmt.DIGEST_MAX_ALERTS)
            self.backlog = self.outbox.backlog(SINK)
            if not items:
                if self.state != "error":  # a permanent rejection stays visible until the next success
                    self.state = "idle"
                if self.stopping:
                    return
                await self._idle(1.0)
                continue
            items = self._drop_muted(items)
            if not items:
                continue
            first = items[0]
            if first.kind == "alert":
                wait_s = self._last_alert_send + self.settings.digest_window_s - time.monotonic()
                if wait_s > 0 and not self.stopping:
                    self.state = "digest-wait"
                    await self._idle_sleep(wait_s)
                    continue  # re-read: more alerts may have joined the burst
                batch = [first]  # digest_window_s = 0 turns digests off: one message per alert
                if self.settings.digest_window_s > 0:
                    batch = []
                    for it in items:
                        if it.kind != "alert":
                            break
                        batch.append(it)
            else:
                batch = [first]
            if not await self._deliver(batch):
                return

    def _drop_muted(self, items: list[OutboxItem]) -> list[OutboxItem]:
        """Record muted alerts as done for Discord and return the rest; a failing check mutes nothing."""
        if self.is_muted is None:
            return items
        keep, muted = [], []
        for it in items:
            try:
                silent = it.kind == "alert" and self.is_muted(Alert.from_dict(it.payload))
            except Exception:
                log.exception("discord: mute check failed for %s; sending it", it.key)
                silent = False
            (muted if silent else keep).append(it)
        if muted:
            self.outbox.mark(SINK, [it.key for it in muted], "muted")
            self.muted += len(muted)
        return keep

    def _payload(self, batch: list[OutboxItem]) -> dict[str, Any]:
        username = self.settings.username
        if batch[0].kind == "trade":
            ev = _trade_from(batch[0].payload)
            _, _, sim = self.context(ev.symbol)
            return fmt.trade_message(ev, username=username, simulated=sim)
        alerts = [Alert.from_dict(it.payload) for it in batch]
        if len(alerts) == 1:
            snap, composite, sim = self.context(alerts[0].symbol)
            return fmt.alert_message(alerts[0], snap, composite, username=username, simulated=sim)
        sim = any(self.context(a.symbol)[2] for a in alerts)
        return fmt.digest_message(alerts, window_s=self.settings.digest_window_s, username=username, simulated=sim)

    async def _deliver(self, batch: list[OutboxItem]) -> bool:
        """Send one message; False when stopping and Discord is failing (the items stay pending)."""
        keys = [it.key for it in batch]
        try:
            payload = self._payload(batch)
        except Exception as exc:  # a stored payload we cannot read: give up on it, visibly
            log.exception("discord: cannot format %s", keys)
            self._record_failure(keys, f"cannot format: {exc}", permanent=True)
            return True
        self.state = "sending"
        result = await self.client.post(payload)
        if batch[0].kind == "alert":
            self._last_alert_send = time.monotonic()
        if result.ok:
            self.outbox.mark(SINK, keys, "sent")
            self.sent += len(keys)
            self.messages += 1
            self.digests += int(len(batch) > 1)
            self._round_pause_s = ROUND_PAUSE_MIN_S
            self.state = "ok"
            return True
        self._record_failure(keys, result.error or "unknown error", result.permanent)
        if result.permanent:
            return True
        if self.stopping:
            return False
        self.state = "retry-wait"
        await self._idle_sleep(self._round_pause_s)
        self._round_pause_s = min(ROUND_PAUSE_MAX_S, self._round_pause_s * 2)
        return True

    async def _idle_sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < end:
            await asyncio.sleep(min(0.2, end - time.monotonic()))

    def _record_failure(self, keys: list[str], error: str, permanent: bool) -> None:
        self.last_error = error
        self.last_error_ms = int(time.time() * 1000)
        if permanent:
            self.outbox.mark(SINK, keys, "failed", error)
            self.failed += len(keys)
            self.state = "error"
            log.error("discord rejected %d item(s), not retried: %s", len(keys), error)
        else:
            self.outbox.mark_retry(SINK, keys, error)
            self.state = "retrying"
            log.warning("discord delivery failed, will retry: %s", error)


def _trade_from(d: dict[str, Any]) -> PaperTradeEvent:
    return PaperTradeEvent(
        id=str(d["id"]), symbol=str(d["symbol"]), action=TradeAction(d["action"]), side=PositionSide(d["side"]),
        qty=float(d["qty"]), price=float(d["price"]), notional_usd=float(d["notional_usd"]),
        confluence_score=float(d["confluence_score"]), reason=str(d.get("reason", "")),
        ts_event_ms=int(d["ts_event_ms"]), pnl_usd=float(d.get("pnl_usd", 0.0)), simulated=bool(d.get("simulated")),
    )
