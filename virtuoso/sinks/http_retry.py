"""One HTTP request with the far side's rules: retries with backoff and jitter, 429 waits, pacing.

Every outgoing channel (Discord, Telegram, the generic webhook) sends through :class:`HttpSender`;
what differs is how a response is read, which each channel supplies as ``classify(response)``:

- return a :class:`SendResult` (accepted, or refused for good: not retried);
- raise :class:`RateLimited` (429: wait ``retry_after_s``, then retry) or :class:`TransientError`
  (5xx: retry with exponential backoff and jitter). Connection errors and timeouts are transient.

``pace(key, seconds)`` lets a channel hold back its next request on a route (Discord's
``X-RateLimit-Remaining: 0``) instead of provoking a 429. Nothing here logs a URL: secrets live in
URLs (a webhook token, a bot token), so errors pass through the channel's ``scrub`` first.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

MAX_RATE_WAIT_S = 300.0  # never sleep longer than this on one 429 (services have sent absurd values)


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
    body: Any = None  # the parsed JSON answer, when there is one


def non_negative_float(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if f == f and f >= 0 else None


Classify = Callable[[httpx.Response, "HttpSender"], SendResult]


class HttpSender:
    """An async HTTP client with the retry rules above; ``transport`` and ``sleep`` are test seams."""

    def __init__(self, classify: Classify, *, scrub: Callable[[str], str], timeout_s: float = 10.0,
                 max_attempts: int = 8, backoff_initial_s: float = 0.5, backoff_max_s: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._classify = classify
        self._scrub = scrub
        self.max_attempts = max_attempts
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self._sleep = sleep
        self._http = httpx.AsyncClient(timeout=timeout_s, transport=transport)
        self._paced_until: dict[str, float] = {}
        self.requests = 0
        self.rate_limited = 0
        self.rate_waited_s = 0.0
        self.paced = 0

    async def aclose(self) -> None:
        await self._http.aclose()

    def pace(self, key: str, seconds: float) -> None:
        """Hold the next request on ``key`` for ``seconds`` (``*`` holds every key)."""
        until = time.monotonic() + min(max(0.0, seconds), MAX_RATE_WAIT_S)
        self._paced_until[key] = max(self._paced_until.get(key, 0.0), until)

    def rate_limit_hit(self, retry_after_s: float, key: str) -> RateLimited:
        """Count a 429 and pace ``key``; returns the exception for the caller to raise."""
        self.rate_limited += 1
        self.rate_waited_s += retry_after_s
        self.pace(key, retry_after_s)
        return RateLimited(retry_after_s, f"429 rate limited: retry after {retry_after_s:.3f} s")

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, RateLimited):
            return min(exc.retry_after_s, MAX_RATE_WAIT_S)
        exp = self.backoff_initial_s * 2 ** max(0, state.attempt_number - 1)
        return min(self.backoff_max_s, exp) + random.uniform(0, self.backoff_initial_s)

    async def send(self, method: str, url: str, *, pace_key: str = "", classify: Classify | None = None,
                   **kwargs: Any) -> SendResult:
        """One request with retries; never raises for HTTP or network trouble.

        ``pace_key`` names the route (its pacing); ``classify`` replaces the sender's reader for
        this request (a route with its own answers)."""
        attempts = 0
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.max_attempts), wait=self._wait, sleep=self._sleep,
                retry=retry_if_exception_type((TransientError, RateLimited)), reraise=True,
            ):
                with attempt:
                    attempts += 1
                    result = await self._once(method, url, pace_key, classify or self._classify, kwargs)
            return SendResult(result.ok, result.status, result.error, result.permanent, attempts, result.body)
        except RateLimited as exc:
            return SendResult(False, 429, self._scrub(str(exc)), False, attempts)
        except TransientError as exc:
            return SendResult(False, None, self._scrub(str(exc)), False, attempts)

    async def _once(self, method: str, url: str, pace_key: str, classify: Classify,
                    kwargs: dict[str, Any]) -> SendResult:
        now = time.monotonic()
        delay = max(self._paced_until.get(pace_key, 0.0), self._paced_until.get("*", 0.0)) - now
        if delay > 0.005:  # what a 429's own wait left over is not worth a sleep
            self.paced += 1
            await self._sleep(min(delay, MAX_RATE_WAIT_S))
        self.requests += 1
        try:
            resp = await self._http.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise TransientError(f"timeout: {type(exc).__name__}") from None
        except httpx.TransportError as exc:
            raise TransientError(f"connection error: {type(exc).__name__}: {self._scrub(str(exc))[:200]}") from None
        result = classify(resp, self)
        if result.error:
            result = SendResult(result.ok, result.status, self._scrub(result.error), result.permanent, 1, result.body)
        return result
