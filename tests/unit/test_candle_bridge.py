"""The real-candle bridge: each minute's OHLC and volume reproduced, a Bybit v5 stream the real parser reads."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone

import numpy as np
import orjson

from tests.real_data import real_data
from virtuoso.domain.events import Liquidation, Ticker, Trade
from virtuoso.ingest.bybit.parse import BybitParser
from virtuoso.ingest.candles import CandleMarket, real_window, split_days
from virtuoso.ingest.candles.ticks import minute_trades, trade_counts
from virtuoso.ingest.simulator import EPISODE_KINDS, Episode
from virtuoso.state.market import MarketState

HOUR = 3_600_000


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).date().isoformat()


def test_the_days_split_into_a_calibration_part_then_a_held_out_part():
    parts = split_days(real_data())
    cal, held = parts["calibration"], parts["held_out"]
    assert (len(cal), len(held)) == (15, 14)
    assert (_day(cal[0]), _day(cal[-1]), _day(held[0]), _day(held[-1])) == (
        "2025-05-05", "2025-05-19", "2025-05-20", "2025-06-02")
    assert cal[-1] < held[0] and not set(cal) & set(held)


def test_minute_trades_reproduce_every_candle_exactly():
    data, rng = real_data(), np.random.default_rng(3)
    day = split_days(data)["held_out"][0]
    for sym in ("BTCUSDT", "LINKUSDT", "XMRUSDT"):
        sc = data[sym]
        sl = sc.window(day, day + 86_400_000)
        o, h, lo, c, v = sc.open[sl], sc.high[sl], sc.low[sl], sc.close[sl], sc.volume_lots[sl]
        tr = minute_trades(rng, o, h, lo, c, v, trade_counts(rng, v, 40.0, float(np.median(v))))
        m = len(o)
        idx = np.arange(len(tr.px))
        first, last = np.full(m, len(idx)), np.full(m, -1)
        np.minimum.at(first, tr.minute, idx)
        np.maximum.at(last, tr.minute, idx)
        hi, low = np.full(m, -1), np.full(m, 1 << 62)
        np.maximum.at(hi, tr.minute, tr.px)
        np.minimum.at(low, tr.minute, tr.px)
        assert (tr.px[first] == o).all() and (tr.px[last] == c).all(), sym
        assert (hi == h).all() and (low == lo).all(), sym
        assert (np.bincount(tr.minute, weights=tr.lots, minlength=m) == v).all(), sym
        assert tr.lots.min() >= 1 and (np.diff(tr.minute * 60_000 + tr.ms) >= 0).all()
        up = np.diff(tr.px) > 0
        assert tr.buy[1:][up].mean() > 0.7  # an up-tick is mostly a buyer lifting the ask


def _stream(market: CandleMarket):
    parser, state = BybitParser(), MarketState(market.symbols, 1_800, 2_880)
    trades, tickers, liqs = defaultdict(list), defaultdict(list), defaultdict(list)
    last_ts = 0
    for msg, ts in market.run():
        assert ts >= last_ts and msg["ts"] == ts
        last_ts = ts
        events = parser.parse(msg, ts * 1_000_000)
        state.apply_many(events)
        for ev in events:
            (trades if isinstance(ev, Trade) else tickers if isinstance(ev, Ticker)
             else liqs if isinstance(ev, Liquidation) else defaultdict(list))[ev.symbol].append(ev)
    state.advance_to(market.end_ms)
    assert parser.malformed == 0 and parser.unknown == 0, parser.last_error
    return state, trades, tickers, liqs


def test_the_stream_through_the_real_parser_and_state_gives_back_the_candles():
    data = real_data()
    start, _, _ = real_window(split_days(data)["held_out"][3], 0)
    syms = ["BTCUSDT", "SUIUSDT", "XMRUSDT"]
    market = CandleMarket(data, start_ms=start, end_ms=start + HOUR, seed=2, symbols=syms)
    state, trades, tickers, _ = _stream(market)
    for sym in syms:
        sc = data[sym]
        bars = {b.start_ms: b for b in state.bars_1m(sym)}
        sl = sc.window(start, start + HOUR)
        assert len(bars) >= 59
        for j in range(sl.start, sl.stop):
            b = bars[int(sc.ts_ms[j])]
            assert abs(b.close - sc.close[j] * sc.tick) < 1e-9 * b.close
            # bars are continuous (each opens at the previous close), so they may reach a tick further
            assert b.high >= sc.high[j] * sc.tick - 1e-9 and b.low <= sc.low[j] * sc.tick + 1e-9
            assert abs(b.volume - sc.volume_lots[j] * sc.qty_step) <= 1e-9 * max(1.0, b.volume)
        same_ms = defaultdict(int)
        for t in trades[sym]:
            same_ms[t.ts_event_ms] += 1
        assert sum(1 for n in same_ms.values() if n >= 3) > 0  # sweeps
        # the ticker carries the real rate of the next settlement and its time
        t = tickers[sym][-1]
        k = int(np.searchsorted(sc.funding_ts_ms, t.ts_event_ms, side="right"))
        assert abs(t.funding_rate - sc.funding_rate[k]) <= 5e-7  # Bybit prints six decimals
        assert t.open_interest > 0


def test_the_same_seed_gives_the_same_bytes():
    data = real_data()
    start = split_days(data)["held_out"][1]

    def stream(seed: int) -> list[bytes]:
        return [orjson.dumps(m) for m, _ in CandleMarket(data, start_ms=start, end_ms=start + 600_000, seed=seed,
                                                         symbols=["ETHUSDT", "ENAUSDT"]).run()]

    a = stream(5)
    assert a == stream(5) and a != stream(6)


def test_open_interest_wanders_more_on_thin_coins_and_liquidations_come_with_large_moves():
    data = real_data()
    start = split_days(data)["held_out"][5]
    market = CandleMarket(data, start_ms=start, end_ms=start + 6 * HOUR, seed=4, symbols=["BTCUSDT", "XMRUSDT"])
    _, _, tickers, liqs = _stream(market)

    def hourly_sd(sym: str) -> float:  # from minute changes: sqrt(60) x their sd
        oi = {t.ts_event_ms // 60_000: t.open_interest for t in tickers[sym] if t.open_interest == t.open_interest}
        return float(np.std(np.diff(np.log([oi[k] for k in sorted(oi)]))) * np.sqrt(60))

    btc, xmr = hourly_sd("BTCUSDT"), hourly_sd("XMRUSDT")
    assert 0.003 < btc < 0.008 and 0.01 < xmr < 0.025 and btc < xmr  # 0.5 % and ~1.6 % an hour
    assert sum(len(v) for v in liqs.values()) > 0
    prof = {p.symbol: p for p in market.profiles}
    assert prof["BTCUSDT"].tier == "T1 major" and prof["XMRUSDT"].tier == "T3 mid"


def test_a_planted_pump_rides_on_the_real_background_and_a_quiet_run_plants_nothing():
    data = real_data()
    start = split_days(data)["held_out"][2]
    ep = Episode("pump_and_dump", "LINKUSDT", start + 20 * 60_000, 600, 0.08)
    market = CandleMarket(data, start_ms=start, end_ms=start + HOUR, seed=1, symbols=["LINKUSDT", "BTCUSDT"],
                          scheduled=[ep])
    _, trades, _, _ = _stream(market)
    assert ep in market.labels
    link = trades["LINKUSDT"]
    before = next(t.price for t in reversed(link) if t.ts_event_ms < ep.start_ms)
    peak = max(t.price for t in link if ep.start_ms <= t.ts_event_ms < ep.start_ms + 300_000)
    assert peak / before - 1 > 0.05

    def usd(a: int, b: int) -> float:
        return sum(t.price * t.size for t in link if a <= t.ts_event_ms < b)

    assert usd(ep.start_ms + 60_000, ep.start_ms + 180_000) > 2 * usd(ep.start_ms - 180_000, ep.start_ms - 60_000)
    quiet = CandleMarket(data, start_ms=start, end_ms=start + HOUR, seed=1, symbols=["LINKUSDT"])
    for _ in quiet.run():
        pass
    assert not [e for e in quiet.labels if e.kind in EPISODE_KINDS]
    planted = CandleMarket(data, start_ms=start, end_ms=start + 4 * HOUR, seed=1, symbols=["LINKUSDT"],
                           episodes_per_hour=3)
    for _ in planted.run():
        pass
    assert [e for e in planted.labels if e.kind in EPISODE_KINDS]
