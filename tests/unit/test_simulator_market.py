"""The widened simulator: per-symbol markets drawn from the seed, tiers, quiet mode, sweeps, block prints, factor."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest

from virtuoso.domain.events import Ticker, Trade
from virtuoso.ingest.bybit.parse import BybitParser
from virtuoso.ingest.simulator import EPISODE_KINDS, Episode, SimMarket
from virtuoso.ingest.simulator.planner import noise_floor
from virtuoso.ingest.simulator.profiles import (
    TIER_NAMES,
    evaluation_symbols,
    profile_for,
    simulated_universe,
    tier_of,
)

T0_MS = 1_736_121_600_000  # 2025-01-06 00:00 UTC
DEFAULT_WATCHLIST = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT"]


def parsed(market: SimMarket, seconds: float):
    parser, trades, tickers = BybitParser(), defaultdict(list), defaultdict(list)
    for msg, ts in market.run(seconds):
        for ev in parser.parse(msg, ts * 1_000_000):
            if isinstance(ev, Trade):
                trades[ev.symbol].append(ev)
            elif isinstance(ev, Ticker):
                tickers[ev.symbol].append(ev)
    assert parser.malformed == 0 and parser.unknown == 0, parser.last_error
    return trades, tickers


def test_each_symbols_market_is_drawn_from_the_seed_and_does_not_depend_on_the_watchlist():
    a, b, c = profile_for("NEARUSDT", 3), profile_for("NEARUSDT", 3), profile_for("NEARUSDT", 4)
    assert a == b and a != c
    assert {a.t_df, a.beta, a.oi_hourly_sd} != {c.t_df, c.beta, c.oi_hourly_sd}
    one = SimMarket(["NEARUSDT"], seed=3, start_ms=T0_MS)
    many = SimMarket(["BTCUSDT", "NEARUSDT", "ZROUSDT"], seed=3, start_ms=T0_MS)
    assert one.profiles[0] == many.profiles[1] == a
    assert profile_for("NEARUSDT") == profile_for("NEARUSDT")  # the nominal profile has no draws


def test_the_randomised_parameters_stay_in_their_documented_ranges():
    for seed in range(20):
        for sym in ("ETHUSDT", "ZROUSDT", simulated_universe()[400]):
            p = profile_for(sym, seed)
            assert 2.5 <= p.t_df <= 6.0 and 1.3 <= p.size_alpha <= 2.0
            assert 0.005 <= p.oi_hourly_sd <= 0.025
            assert 1_000 <= p.lag_ms <= 2_000
            assert 0.0 < p.sweep_share < 0.06 and p.blocks_per_hour > 0
    assert profile_for("BTCUSDT", 5).beta == 1.0 and profile_for("BTCUSDT", 5).lag_ms == 0
    assert all(1.0 <= profile_for(s, 9).beta <= 1.8 for s in simulated_universe()[30:60])


def test_the_universe_spreads_liquidity_from_about_4b_to_about_4m_a_day_over_every_tier():
    names = simulated_universe()
    assert len(names) == len(set(names)) == 500
    assert names[:5] == DEFAULT_WATCHLIST
    assert all(n.endswith("USDT") and n.isalnum() and n.isupper() for n in names)
    turnover = [profile_for(s).turnover_usd_day for s in names]
    assert 3e9 <= max(turnover) <= 5e9 and 3e6 <= min(turnover) <= 6e6
    tiers = [tier_of(t) for t in turnover]
    counts = {t: tiers.count(t) for t in TIER_NAMES}
    assert counts[TIER_NAMES[0]] >= 2 and counts[TIER_NAMES[-1]] > 250, counts  # few majors, many thin coins
    assert all(counts[t] >= 2 for t in TIER_NAMES)
    assert simulated_universe(10) == names[:10] and len(simulated_universe(600)) == 600
    picked = evaluation_symbols(1000)
    assert picked[0] == "BTCUSDT" and {profile_for(s).tier for s in picked} == set(TIER_NAMES)
    assert evaluation_symbols(1000) == picked != evaluation_symbols(1001)


def test_oi_noise_and_trade_flow_follow_liquidity():
    btc, thin = profile_for("BTCUSDT"), profile_for(simulated_universe()[480])
    assert 0.005 <= btc.oi_hourly_sd <= 0.008 and 0.018 <= thin.oi_hourly_sd <= 0.025
    assert btc.trades_per_s > 50 * thin.trades_per_s
    assert btc.median_notional_usd > thin.median_notional_usd
    # the floor a random manipulation must clear rises with the coin's own noise
    assert noise_floor("oi_surge", thin, 1_800) > 2.5 * noise_floor("oi_surge", btc, 1_800)
    assert noise_floor("price_move", thin, 60) > noise_floor("price_move", btc, 60)


def test_the_default_watchlist_looks_like_those_coins():
    levels = {"BTCUSDT": 90_000, "ETHUSDT": 3_000, "SOLUSDT": 150, "XRPUSDT": 2, "DOGEUSDT": 0.2}
    for sym, level in levels.items():
        p = profile_for(sym, 7)  # the live simulator's default seed
        assert p.price == level
        assert 2.0e8 <= p.turnover_usd_day <= 6.0e9 and 0.02 <= p.daily_vol <= 0.06
    assert profile_for("BTCUSDT", 7).tier == TIER_NAMES[0]
    trades, _ = parsed(SimMarket(DEFAULT_WATCHLIST, seed=7, start_ms=T0_MS + 14 * 3_600_000), 120)
    usd = {s: sum(t.price * t.size for t in trades[s]) for s in DEFAULT_WATCHLIST}
    assert usd["BTCUSDT"] > usd["XRPUSDT"] and usd["BTCUSDT"] > usd["DOGEUSDT"]
    assert len(trades["BTCUSDT"]) > 120 * 5


def test_quiet_mode_plants_no_manipulation_but_keeps_the_hard_negatives():
    m = SimMarket(["BTCUSDT", "ZROUSDT"], seed=4, start_ms=T0_MS + 6 * 3_600_000, episodes_per_hour=10,
                  market_moves_per_day=24, volatile_per_day=24, quiet=True)  # a funding settlement at 08:00
    for _ in m.run(3 * 3600):
        pass
    kinds = {e.kind for e in m.labels}
    assert not kinds & set(EPISODE_KINDS)
    assert {"market_move", "funding_time", "block_print", "volatile_normal"} <= kinds
    loud = SimMarket(["BTCUSDT", "ZROUSDT"], seed=4, start_ms=T0_MS, episodes_per_hour=10)
    for _ in loud.run(3600):
        pass
    assert {e.kind for e in loud.labels} & set(EPISODE_KINDS)
    with pytest.raises(ValueError):
        SimMarket(["BTCUSDT"], seed=1, start_ms=T0_MS, quiet=True,
                  scheduled=[Episode("oi_surge", "BTCUSDT", T0_MS + 60_000, 300, 0.05)])


def test_sweeps_print_one_order_as_several_trades_at_one_millisecond_walking_the_book():
    trades, _ = parsed(SimMarket(["BTCUSDT", "ETHUSDT"], seed=2, start_ms=T0_MS, episodes_per_hour=0), 300)
    groups = defaultdict(list)
    for t in trades["BTCUSDT"]:
        groups[t.ts_event_ms].append(t)
    sweeps = [g for g in groups.values() if len(g) >= 3 and len({t.side for t in g}) == 1
              and len({t.price for t in g}) >= 2]
    assert len(sweeps) >= 20
    for g in sweeps:
        prices = [t.price for t in g]
        assert prices == sorted(prices, reverse=g[0].side.value == "Sell")  # a buy walks up, a sell down


def test_block_prints_are_large_some_are_flagged_bt_and_each_is_labelled():
    m = SimMarket(["ETHUSDT", "ZROUSDT"], seed=5, start_ms=T0_MS, episodes_per_hour=0)
    trades, _ = parsed(m, 4 * 3600)
    blocks = [e for e in m.labels if e.kind == "block_print"]
    assert len(blocks) >= 4
    flagged = [t for s in trades for t in trades[s] if t.is_block_trade]
    assert flagged and len(flagged) < len(blocks)  # some, not all, carry BT
    for ep in blocks:
        second = [t for t in trades[ep.symbol] if ep.start_ms <= t.ts_event_ms < ep.start_ms + 1000]
        biggest = max(t.price * t.size for t in second)
        p = profile_for(ep.symbol, 5)
        assert biggest >= 0.4 * ep.amplitude * p.turnover_usd_day / 1_440  # about its label's size
    for t in flagged:
        assert t.price * t.size > 100 * profile_for(t.symbol, 5).median_notional_usd


def test_alts_follow_btc_about_their_lag_late():
    m = SimMarket(["BTCUSDT", "SOLUSDT"], seed=8, start_ms=T0_MS + 14 * 3_600_000, episodes_per_hour=0,
                  market_moves_per_day=0, volatile_per_day=0)
    lag_s = m.profiles[1].lag_ms / 1000
    _, tickers = parsed(m, 1_800)

    def returns(sym: str) -> np.ndarray:
        last = {}
        for t in tickers[sym]:
            last[t.ts_event_ms // 1000] = t.mark_price
        secs = sorted(last)
        return np.diff(np.log([last[s] for s in secs]))

    btc, sol = returns("BTCUSDT"), returns("SOLUSDT")
    n = min(len(btc), len(sol)) - 3
    same = np.corrcoef(btc[:n], sol[:n])[0, 1]
    late = max(np.corrcoef(btc[:n], sol[k:n + k])[0, 1] for k in (1, 2))
    assert late > same and late > 0.3, (same, late, lag_s)


def test_a_few_hundred_symbols_simulate_with_books_for_a_focus_list_only():
    names = simulated_universe(300)
    m = SimMarket(names, seed=1, start_ms=T0_MS, book_symbols=names[:5])
    books, tickers, trades = set(), set(), 0
    parser = BybitParser()
    for msg, ts in m.run(20):
        topic = msg["topic"]
        if topic.startswith("orderbook."):
            books.add(topic.rsplit(".", 1)[1])
        elif topic.startswith("tickers."):
            tickers.add(topic.rsplit(".", 1)[1])
        trades += topic.startswith("publicTrade.")
        parser.parse(msg, ts * 1_000_000)
    assert parser.malformed == 0
    assert books == set(names[:5]) and tickers == set(names)
    assert trades > 300


def test_random_manipulations_clear_the_symbols_noise_floor():
    m = SimMarket(["BTCUSDT", simulated_universe()[450]], seed=12, start_ms=T0_MS, episodes_per_hour=6)
    for _ in m.run(4 * 3600):
        pass
    manip = [e for e in m.labels if e.kind in EPISODE_KINDS]
    assert len(manip) > 10
    prof = dict(zip(m.symbols, m.profiles))
    for e in manip:
        assert abs(e.amplitude) >= noise_floor(e.kind, prof[e.symbol], e.duration_s) * 0.999, e
    stealth = [e for e in manip if e.kind == "oi_surge" and e.duration_s >= 900]
    assert all(e.duration_s <= 1_800 for e in stealth)
    assert math.isfinite(sum(abs(e.amplitude) for e in manip))
