"""Pure backfill merge, topic names, and REST retry policy through httpx's transport seam."""

from __future__ import annotations

import math

import httpx
import pytest

from virtuoso.ingest.bybit.backfill import merge_bars
from virtuoso.ingest.bybit.rest import BybitRest, BybitRestError
from virtuoso.ingest.bybit.topics import chunked, topic_kind, topic_symbol, topics_for

T0 = 1_700_000_040_000  # minute-aligned


def _row(t: int, close: str = "101") -> list[str]:
    return [str(t), "100", "102", "99", close, "5", "505"]


def test_each_minute_gets_the_latest_open_interest_at_or_before_its_end():
    rows = [_row(T0 + i * 60_000) for i in range(7)]
    oi = [(T0 + 60_000, 10.0), (T0 + 300_000, 20.0)]
    bars, bad = merge_bars("BTCUSDT", rows, oi, now_ms=T0 + 10 * 60_000)
    assert bad == 0 and [b.start_ms for b in bars] == [T0 + i * 60_000 for i in range(7)]
    got = [b.open_interest for b in bars]
    assert math.isnan(got[0]) and got[1:5] == [10.0] * 4 and got[5:] == [20.0, 20.0]
    assert bars[0].close == 101 and bars[0].volume == 5 and bars[0].turnover == 505 and bars[0].interval_s == 60


def test_the_open_minute_is_left_to_the_live_stream():
    bars, _ = merge_bars("BTCUSDT", [_row(T0), _row(T0 + 60_000)], [], now_ms=T0 + 90_000)
    assert [b.start_ms for b in bars] == [T0]


def test_malformed_kline_rows_are_counted_and_skipped():
    rows = [_row(T0), ["x"], [str(T0 + 60_000), "nan", "1", "1", "1", "1", "1"], [str(T0 + 7), *_row(0)[1:]], None]
    bars, bad = merge_bars("BTCUSDT", rows, [], now_ms=T0 + 10 * 60_000)
    assert len(bars) == 1 and bad == 4


def test_topics_cover_four_streams_per_symbol_in_requests_of_at_most_ten():
    topics = topics_for(["BTCUSDT", "ETHUSDT", "SOLUSDT"], 50)
    assert "allLiquidation.ETHUSDT" in topics and "orderbook.50.SOLUSDT" in topics and len(topics) == 12
    assert [len(c) for c in chunked(topics)] == [10, 2]
    assert topic_kind("orderbook.50.BTCUSDT") == "orderbook" and topic_symbol("orderbook.50.BTCUSDT") == "BTCUSDT"


def _rest(handler, attempts: int = 4, sleeps: list[float] | None = None) -> BybitRest:
    return BybitRest(
        "http://bybit.test", max_attempts=attempts, backoff_initial_s=0.5, backoff_max_s=4,
        sleep=(sleeps.append if sleeps is not None else lambda s: None), transport=httpx.MockTransport(handler),
    )


def _ok(result: dict) -> httpx.Response:
    return httpx.Response(200, json={"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": 1})


def test_a_rate_limit_retcode_waits_with_growing_backoff_then_succeeds():
    calls, sleeps = [], []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(req)
        if len(calls) <= 2:
            return httpx.Response(200, json={"retCode": 10006, "retMsg": "Too many visits!", "result": {}, "retExtInfo": {}, "time": 1})
        return _ok({"timeSecond": "1", "timeNano": "1700000000000000000"})

    rest = _rest(handler, sleeps=sleeps)
    assert rest.server_time_ms() == 1_700_000_000_000
    assert len(calls) == 3 and rest.retries == 2 and len(sleeps) == 2 and 0 < sleeps[0] and sleeps[1] >= 1.0


def test_a_bad_parameter_retcode_is_reported_at_once_not_retried():
    calls = []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(req)
        return httpx.Response(200, json={"retCode": 10001, "retMsg": "params error", "result": {}, "retExtInfo": {}, "time": 1})

    with pytest.raises(BybitRestError) as err:
        _rest(handler).server_time_ms()
    assert len(calls) == 1 and err.value.ret_code == 10001 and not err.value.retryable


def test_http_403_is_not_retried_but_5xx_is_until_attempts_run_out():
    calls = []

    def forbidden(req: httpx.Request) -> httpx.Response:
        calls.append(req)
        return httpx.Response(403, text="access too frequent")

    with pytest.raises(BybitRestError):
        _rest(forbidden).server_time_ms()
    assert len(calls) == 1
    calls.clear()

    def broken(req: httpx.Request) -> httpx.Response:
        calls.append(req)
        return httpx.Response(502)

    with pytest.raises(BybitRestError) as err:
        _rest(broken, attempts=3).server_time_ms()
    assert len(calls) == 3 and err.value.http_status == 502


def test_a_connection_error_is_retried_and_then_reported_as_a_rest_error():
    def refuse(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    rest = _rest(refuse, attempts=2)
    with pytest.raises(BybitRestError) as err:
        rest.server_time_ms()
    assert rest.calls == 2 and "ConnectError" in str(err.value)
