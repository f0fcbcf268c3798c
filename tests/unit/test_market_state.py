"""MarketState: bar values, closing on event time, retention, seeding, snapshots."""

from __future__ import annotations

import math
import threading

import pytest

from virtuoso.domain.events import Kline, Side
from tests.state_factories import (
    SYMBOL, T0_MS, bar_1m, book, liquidation, state, ticker, trade,
)


def test_one_second_bar_has_ohlc_volumes_and_buy_sell_split_from_trades():
    ms = state()
    for i, (p, sz, side) in enumerate([(100.0, 1.0, Side.BUY), (102.0, 2.0, Side.SELL), (99.0, 0.5, Side.SELL), (101.0, 1.5, Side.BUY)]):
        ms.apply(trade(T0_MS + i * 100, p, sz, side))
    ms.advance_to(T0_MS + 1000)
    [b] = ms.bars_1s(SYMBOL)
    assert (b.start_ms, b.interval_s) == (T0_MS, 1)
    assert (b.open, b.high, b.low, b.close) == (100.0, 102.0, 99.0, 101.0)
    assert b.volume == pytest.approx(5.0)
    assert b.buy_volume == pytest.approx(2.5) and b.sell_volume == pytest.approx(2.5)
    assert b.turnover == pytest.approx(100 + 204 + 49.5 + 151.5)
    assert b.trade_count == 4


def test_open_interest_and_funding_are_the_last_ticker_values_seen():
    ms = state()
    ms.apply(trade(T0_MS, 100.0))
    ms.apply(ticker(T0_MS + 100, open_interest=1_000.0, funding_rate=0.0001))
    ms.apply(ticker(T0_MS + 900, open_interest=1_250.0, funding_rate=0.0003))
    ms.advance_to(T0_MS + 1000)
    [b] = ms.bars_1s(SYMBOL)
    assert b.open_interest == 1_250.0 and b.funding_rate == 0.0003


def test_liquidations_split_into_long_and_short_volume():
    ms = state()
    ms.apply(trade(T0_MS, 100.0))
    ms.apply(liquidation(T0_MS + 10, size=3.0, side=Side.BUY))  # Buy closes a long
    ms.apply(liquidation(T0_MS + 20, size=1.0, side=Side.SELL))
    ms.apply(liquidation(T0_MS + 30, size=2.0, side=Side.BUY))
    ms.advance_to(T0_MS + 1000)
    [b] = ms.bars_1s(SYMBOL)
    assert b.long_liq_volume == 5.0 and b.short_liq_volume == 1.0
    assert b.volume == 1.0  # liquidations are not trades


def test_event_of_a_later_second_closes_the_open_bar_for_that_symbol_only():
    ms = state(symbols=(SYMBOL, "ETHUSDT"))
    ms.apply(trade(T0_MS, 100.0))
    ms.apply(trade(T0_MS, 10.0, symbol="ETHUSDT"))
    ms.apply(trade(T0_MS + 1_500, 101.0))
    assert [b.close for b in ms.bars_1s(SYMBOL)] == [100.0]
    assert ms.bars_1s("ETHUSDT") == []
    ms.advance_to(T0_MS + 2_000)
    assert [b.start_ms for b in ms.bars_1s(SYMBOL)] == [T0_MS, T0_MS + 1000]
    assert len(ms.bars_1s("ETHUSDT")) == 2  # the quiet symbol closes too, with a flat bar


def test_quiet_seconds_become_flat_bars_at_the_previous_close_with_oi_carried():
    ms = state()
    ms.apply(ticker(T0_MS, open_interest=500.0))
    ms.apply(trade(T0_MS + 10, 100.0, 2.0))
    ms.apply(trade(T0_MS + 4_010, 105.0, 1.0))
    bars = ms.bars_1s(SYMBOL)
    assert [b.start_ms - T0_MS for b in bars] == [0, 1000, 2000, 3000]
    for b in bars[1:]:
        assert (b.open, b.high, b.low, b.close, b.volume, b.trade_count) == (100.0, 100.0, 100.0, 100.0, 0.0, 0)
        assert b.open_interest == 500.0


def test_one_minute_bars_close_and_call_back_with_the_sum_of_their_seconds():
    closed = []
    ms = state(on_bar_1m=closed.append)
    for s in range(60):
        ms.apply(trade(T0_MS + s * 1000, 100.0 + s, 1.0, Side.BUY if s % 2 else Side.SELL))
    assert closed == []
    ms.advance_to(T0_MS + 60_000)
    [m] = closed
    assert ms.bars_1m(SYMBOL) == [m]
    assert (m.start_ms, m.interval_s, m.open, m.high, m.low, m.close) == (T0_MS, 60, 100.0, 159.0, 100.0, 159.0)
    assert m.volume == 60.0 and m.buy_volume == 30.0 and m.trade_count == 60
    assert sum(b.volume for b in ms.bars_1s(SYMBOL)) == m.volume


def test_a_long_gap_emits_flat_minutes_but_never_more_than_retention():
    closed = []
    ms = state(retention_1s_s=60, retention_1m_min=60, on_bar_1m=closed.append)
    ms.apply(trade(T0_MS, 100.0))
    ms.apply(trade(T0_MS + 5 * 3_600_000, 90.0))  # five quiet hours
    assert len(ms.bars_1s(SYMBOL)) == 60
    assert len(ms.bars_1m(SYMBOL)) == 60
    assert ms.bars_1m(SYMBOL)[-1].end_ms == T0_MS + 5 * 3_600_000
    assert len(closed) == 61  # the real minute plus the retained flat tail
    assert all(b.close == 100.0 for b in ms.bars_1m(SYMBOL))


def test_retention_bounds_the_rolling_bars():
    ms = state(retention_1s_s=60, retention_1m_min=60)
    for s in range(0, 3 * 3600, 7):
        ms.apply(trade(T0_MS + s * 1000, 100.0))
    assert len(ms.bars_1s(SYMBOL)) == 60
    assert len(ms.bars_1m(SYMBOL)) == 60
    starts = [b.start_ms for b in ms.bars_1s(SYMBOL)]
    assert starts == sorted(starts) and starts[-1] - starts[0] == 59_000


def test_bars_n_returns_the_newest_n_oldest_first():
    ms = state()
    for s in range(10):
        ms.apply(trade(T0_MS + s * 1000, 100.0 + s))
    assert [b.close for b in ms.bars_1s(SYMBOL, 3)] == [106.0, 107.0, 108.0]
    assert ms.bars_1s(SYMBOL, 0) == []
    assert len(ms.bars_1s(SYMBOL, 100)) == 9


def test_current_bar_1m_includes_the_open_second():
    ms = state()
    ms.apply(trade(T0_MS, 100.0, 1.0))
    ms.apply(trade(T0_MS + 1_000, 103.0, 2.0))
    cur = ms.current_bar_1m(SYMBOL)
    assert cur is not None and cur.start_ms == T0_MS
    assert (cur.open, cur.high, cur.close, cur.volume) == (100.0, 103.0, 103.0, 3.0)
    assert ms.current_bar_1m("NOPE") is None


def test_symbols_outside_the_watchlist_are_counted_and_ignored():
    ms = state()
    ms.apply(trade(T0_MS, 1.0, symbol="PEPEUSDT"))
    assert ms.ignored_events == 1
    assert ms.bars_1s("PEPEUSDT") == [] and ms.snapshot("PEPEUSDT") is None


def test_kline_events_are_ignored():
    ms = state()
    ms.apply(Kline(SYMBOL, T0_MS, 0, T0_MS, 60, 1, 2, 0.5, 1.5, 100.0, 150.0, True))
    ms.advance_to(T0_MS + 120_000)
    assert ms.bars_1s(SYMBOL) == [] and ms.bars_1m(SYMBOL) == []


def test_late_events_are_counted_and_folded_into_the_open_bar():
    ms = state()
    ms.apply(trade(T0_MS + 2_000, 100.0, 1.0))
    ms.apply(trade(T0_MS + 500, 100.0, 4.0))
    assert ms.late_events == 1
    ms.advance_to(T0_MS + 3_000)
    assert ms.bars_1s(SYMBOL)[-1].volume == 5.0


def test_ticker_and_book_are_kept_and_bars_are_labelled_simulated():
    ms = state(simulated=True)
    t, bk = ticker(T0_MS), book(T0_MS + 5)
    ms.apply(t)
    ms.apply(bk)
    ms.advance_to(T0_MS + 1000)
    assert ms.ticker(SYMBOL) is t and ms.book(SYMBOL) is bk
    assert ms.bars_1s(SYMBOL)[0].simulated is True
    assert ms.last_event_ms == T0_MS + 5


def test_seed_merges_by_start_time_without_duplicates_and_keeps_order():
    ms = state()
    ms.seed_bars_1m([bar_1m(T0_MS + 120_000, 3.0), bar_1m(T0_MS, 1.0)])
    ms.seed_bars_1m([bar_1m(T0_MS + 60_000, 2.0), bar_1m(T0_MS + 120_000, 3.5), bar_1m(T0_MS, 1.0)])
    bars = ms.bars_1m(SYMBOL)
    assert [b.start_ms - T0_MS for b in bars] == [0, 60_000, 120_000]
    assert [b.close for b in bars] == [1.0, 2.0, 3.5]
    assert ms.snapshot(SYMBOL).last_price == 3.5  # a price before any live event


def test_seed_keeps_retention_and_skips_unknown_symbols_and_the_open_minute():
    ms = state(retention_1m_min=60)
    ms.apply(trade(T0_MS + 100 * 60_000, 100.0))
    ms.seed_bars_1m([bar_1m(T0_MS + i * 60_000) for i in range(101)] + [bar_1m(T0_MS, symbol="ETHUSDT")])
    bars = ms.bars_1m(SYMBOL)
    assert len(bars) == 60 and bars[-1].start_ms == T0_MS + 99 * 60_000
    assert ms.bars_1m("ETHUSDT") == []


def test_snapshot_change_1h_and_24h_against_closes_then():
    ms = state(retention_1m_min=1_500)
    hist = [bar_1m(T0_MS + i * 60_000, close=100.0 + i * 0.01, open_interest=1_000.0 + i) for i in range(1_441)]
    ms.seed_bars_1m(hist)
    now = T0_MS + 1_441 * 60_000
    ms.apply(ticker(now, open_interest=2_000.0))
    ms.apply(trade(now, 120.0, 1.0))
    snap = ms.snapshot(SYMBOL)
    ref_1h = hist[1_441 - 60 - 1]  # the bar that ended exactly an hour ago
    assert ref_1h.end_ms == now - 3_600_000
    assert snap.change_1h_pct == pytest.approx((120.0 / ref_1h.close - 1) * 100)
    assert snap.change_24h_pct == pytest.approx((120.0 / hist[0].close - 1) * 100)
    assert snap.oi_change_1h_pct == pytest.approx((2_000.0 / ref_1h.open_interest - 1) * 100)
    assert snap.volume_1h == pytest.approx(60 * 10.0 + 1.0)
    assert snap.volume_baseline_1h == pytest.approx(600.0)
    assert snap.ts_event_ms == now and snap.open_interest == 2_000.0


def test_snapshot_changes_are_nan_until_enough_history():
    ms = state()
    ms.apply(ticker(T0_MS))
    ms.apply(trade(T0_MS, 100.0))
    snap = ms.snapshot(SYMBOL)
    assert math.isnan(snap.change_1h_pct) and math.isnan(snap.change_24h_pct)
    assert math.isnan(snap.volume_baseline_1h)
    assert snap.bid_price == 99.5 and snap.mark_price == 100.0
    assert set(ms.snapshots()) == {SYMBOL}


def test_reads_from_another_thread_while_applying_never_fail():
    ms = state(retention_1s_s=60)
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                ms.bars_1s(SYMBOL)
                ms.bars_1m(SYMBOL, 5)
                ms.snapshots()
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    t = threading.Thread(target=reader)
    t.start()
    for i in range(50_000):
        ms.apply(trade(T0_MS + i * 50, 100.0 + i % 7))
    stop.set()
    t.join()
    assert errors == []
    assert len(ms.bars_1s(SYMBOL)) == 60


def test_a_bar_opens_at_the_previous_close_and_its_range_includes_it():
    ms = state()
    ms.apply(trade(T0_MS, 100.0))
    ms.apply(trade(T0_MS + 1_200, 104.0))
    ms.apply(trade(T0_MS + 1_700, 103.0))
    ms.advance_to(T0_MS + 2_000)
    b = ms.bars_1s(SYMBOL)[-1]
    assert (b.open, b.high, b.low, b.close) == (100.0, 104.0, 100.0, 103.0)
