"""Bybit v5 public REST for backfill: klines, open-interest history, server time.

Every response has Bybit's envelope ``{"retCode", "retMsg", "result", "retExtInfo", "time"}``.
What is retried (``tenacity``, exponential backoff with jitter, bounded attempts):
connection errors, timeouts, HTTP 5xx and 429, and the retCodes that mean "later":
10006 (too many visits, per-UID rate limit), 10018 (per-IP rate limit), 10016 (server error or
service restarting), 10000 (server timeout), 10429 (system frequency protection).
Everything else (HTTP 4xx such as 403 "access too frequent", which asks for a 10-minute pause,
and other retCodes such as 10001 bad parameters) raises :class:`BybitRestError` at once.
References: https://bybit-exchange.github.io/docs/v5/error,
https://bybit-exchange.github.io/docs/v5/rate-limit
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

import httpx
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential, wait_random

log = logging.getLogger(__name__)

RETRYABLE_RET_CODES = frozenset({10000, 10006, 10016, 10018, 10429})
KLINE_PAGE_MAX = 1000  # /v5/market/kline limit, [1, 1000]
OI_PAGE_MAX = 200  # /v5/market/open-interest limit, [1, 200]
_MAX_PAGES = 10_000


class BybitRestError(Exception):
    """A REST call failed; ``retryable`` says whether waiting could help."""

    def __init__(self, message: str, *, ret_code: int | None = None, http_status: int | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.ret_code = ret_code
        self.http_status = http_status
        self.retryable = retryable


def _is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, BybitRestError):
        return exc.retryable
    return isinstance(exc, (httpx.TransportError, httpx.TimeoutException))


class BybitRest:
    """Small synchronous client for the public market endpoints Virtuoso backfills from.

    ``sleep`` is what tenacity waits with (tests pass a recorder; the source passes a
    stop-aware wait); ``transport`` lets tests hand httpx a plain function.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 10.0,
        max_attempts: int = 5,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s, transport=transport)
        self._max_attempts = max_attempts
        # initial * 2**n capped at max, plus up to ``initial`` of random jitter
        self._wait = wait_exponential(multiplier=backoff_initial_s, max=backoff_max_s) + wait_random(0, backoff_initial_s)
        self._sleep = sleep
        self.calls = 0
        self.retries = 0
        self.last_error = ""

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "BybitRest":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ envelope + retry

    def get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """GET ``path`` and return ``result``, retrying transient failures; else BybitRestError."""

        def before_sleep(state: Any) -> None:
            self.retries += 1
            exc = state.outcome.exception() if state.outcome else None
            self.last_error = str(exc)
            log.info("bybit REST %s: %s; retry %d", path, exc, state.attempt_number)

        retrying = Retrying(
            retry=retry_if_exception(_is_retryable),
            wait=self._wait,
            stop=stop_after_attempt(self._max_attempts),
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(self._get_once, path, params)
        except BybitRestError as exc:
            self.last_error = str(exc)
            raise
        except (httpx.TransportError, httpx.TimeoutException) as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            raise BybitRestError(f"{path}: {self.last_error}", retryable=True) from exc

    def _get_once(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        resp = self._client.get(path, params={k: v for k, v in params.items() if v is not None})
        status = resp.status_code
        if status >= 500 or status == 429:
            raise BybitRestError(f"{path}: HTTP {status}", http_status=status, retryable=True)
        if status >= 400:
            raise BybitRestError(f"{path}: HTTP {status} {resp.text[:120]}", http_status=status)
        try:
            body = resp.json()
        except ValueError:
            raise BybitRestError(f"{path}: response is not JSON", http_status=status, retryable=True) from None
        if not isinstance(body, dict):
            raise BybitRestError(f"{path}: response is not a JSON object", http_status=status)
        code = body.get("retCode")
        if code != 0:
            retryable = code in RETRYABLE_RET_CODES
            raise BybitRestError(f"{path}: retCode {code} {str(body.get('retMsg'))[:120]}", ret_code=code, retryable=retryable)
        result = body.get("result")
        if not isinstance(result, dict):
            raise BybitRestError(f"{path}: result missing")
        return result

    # ------------------------------------------------------------------ endpoints

    def server_time_ms(self) -> int:
        """Bybit's clock (``/v5/market/time``), for comparing against ours."""
        result = self.get("/v5/market/time", {})
        return int(result["timeNano"]) // 1_000_000

    def klines_1m(self, symbol: str, start_ms: int, end_ms: int, *, page: int = KLINE_PAGE_MAX) -> list[list[str]]:
        """Raw 1-minute kline rows with ``start_ms <= startTime <= end_ms``, oldest first.

        Bybit returns newest first and at most ``limit`` rows, so we page backwards by moving
        ``end`` to just before the oldest row we have.
        """
        rows: dict[int, list[str]] = {}
        end = end_ms
        for _ in range(_MAX_PAGES):
            result = self.get(
                "/v5/market/kline",
                {"category": "linear", "symbol": symbol, "interval": "1", "start": start_ms, "end": end, "limit": page},
            )
            batch = result.get("list") or []
            oldest: int | None = None
            for row in batch:
                try:
                    t = int(row[0])
                except (TypeError, ValueError, IndexError):
                    continue
                if start_ms <= t <= end_ms:
                    rows[t] = row
                oldest = t if oldest is None else min(oldest, t)
            if not batch or oldest is None or oldest <= start_ms or len(batch) < page or oldest - 1 >= end:
                break
            end = oldest - 1
        return [rows[t] for t in sorted(rows)]

    def open_interest_5m(self, symbol: str, start_ms: int, end_ms: int, *, page: int = OI_PAGE_MAX) -> list[tuple[int, float]]:
        """``(timestamp_ms, open_interest)`` at 5-minute steps in the window, oldest first.

        Pages with ``cursor`` = the previous response's ``nextPageCursor`` until it is empty.
        """
        points: dict[int, float] = {}
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(_MAX_PAGES):
            result = self.get(
                "/v5/market/open-interest",
                {
                    "category": "linear", "symbol": symbol, "intervalTime": "5min",
                    "startTime": start_ms, "endTime": end_ms, "limit": page, "cursor": cursor,
                },
            )
            for item in result.get("list") or []:
                try:
                    t, oi = int(item["timestamp"]), float(item["openInterest"])
                except (TypeError, ValueError, KeyError):
                    continue
                if start_ms <= t <= end_ms and oi >= 0:
                    points[t] = oi
            cursor = result.get("nextPageCursor") or None
            if not cursor or cursor in seen:
                break
            seen.add(cursor)
        return sorted(points.items())
