"""REST backfill against the local Bybit v5 server: paging, retries, errors, merged bars."""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.bybit_server import BybitServer, kline_row, now_ms, oi_value
from virtuoso.ingest.bybit.backfill import Backfiller
from virtuoso.ingest.bybit.rest import BybitRest, BybitRestError

MIN = 60_000


@pytest.fixture
def server() -> Iterator[BybitServer]:
    with BybitServer(("BTCUSDT", "ETHUSDT"), auto_stream=False) as srv:
        yield srv


@pytest.fixture
def rest(server) -> Iterator[BybitRest]:
    with BybitRest(server.rest_url, backoff_initial_s=0.01, backoff_max_s=0.05) as client:
        yield client


def test_klines_page_backwards_from_newest_first_results_into_one_ordered_series(server, rest):
    end = now_ms()
    start = end - end % MIN - 25 * MIN
    rows = rest.klines_1m("BTCUSDT", start, end, page=10)
    assert [int(r[0]) for r in rows] == list(range(start, start + 26 * MIN, MIN))
    assert rows[3] == kline_row("BTCUSDT", start + 3 * MIN)
    ends = [int(q["end"]) for p, q in server.rest_log if p == "/v5/market/kline"]
    assert len(ends) == 3 and ends[0] == end and ends[1] < ends[0] and ends[2] < ends[1]


def test_open_interest_follows_next_page_cursor_until_it_is_empty(server, rest):
    end = now_ms()
    start = end - 3 * 3_600_000
    points = rest.open_interest_5m("ETHUSDT", start, end, page=7)
    assert len(points) >= 36 and points == sorted(points)
    assert all(t % 300_000 == 0 and oi == oi_value("ETHUSDT", t) for t, oi in points)
    cursors = [q.get("cursor") for p, q in server.rest_log if p == "/v5/market/open-interest"]
    assert cursors[0] is None and all(cursors[1:]) and len(cursors) == -(-len(points) // 7)


def test_a_rate_limit_is_retried_then_succeeds(server, rest):
    server.fail_rest(2, ret_code=10006)
    assert rest.server_time_ms() > 0
    assert server.rest_calls["/v5/market/time"] == 3 and rest.retries == 2


def test_http_5xx_is_retried_then_succeeds(server, rest):
    server.fail_rest(1, ret_code=None, http_status=503)
    assert rest.server_time_ms() > 0
    assert server.rest_calls["/v5/market/time"] == 2


def test_a_parameter_error_is_reported_and_not_retried(server, rest):
    server.fail_rest(1, ret_code=10001)
    with pytest.raises(BybitRestError) as err:
        rest.server_time_ms()
    assert err.value.ret_code == 10001 and server.rest_calls["/v5/market/time"] == 1


def test_backfill_delivers_closed_minutes_with_open_interest_and_reports_a_failing_symbol(server, rest):
    got: list = []
    end = now_ms()
    server.fail_rest(1, ret_code=10001)  # the first symbol's first call fails for good
    bf = Backfiller(rest, ["BTCUSDT", "ETHUSDT"], got.append)
    n = bf.run(end - 60 * MIN, end, "test")
    p = bf.progress()
    assert p["state"] == "failed" and p["symbols_done"] == 2 and "BTCUSDT" in p["errors"][0]
    assert len(got) == 1 and n == len(got[0]) and 59 <= n <= 60
    bars = got[0]
    assert all(b.symbol == "ETHUSDT" and b.start_ms + MIN <= end for b in bars)
    assert all(b.open_interest == oi_value("ETHUSDT", b.start_ms - b.start_ms % 300_000) for b in bars)
