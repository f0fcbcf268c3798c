"""The detection runner on a noisy synthetic market: what one manipulation, one print, one crash and
one market-wide move each become. One warmed-up market is copied for every scenario."""

from __future__ import annotations

import copy
from typing import Any

import pytest

pytestmark = pytest.mark.slow  # an hour and a quarter of seconds of warm-up, about a minute

from tests.detect_factories import T0, Bend, Coin, Market, run, watch_or_above
from virtuoso.config import DetectionSettings
from virtuoso.detect.runner import DetectionRunner
from virtuoso.domain.alerts import MARKET_SYMBOL, AlertKind, Change, Severity

WARM_S = 75 * 60
COINS = [Coin("BTCUSDT", 90_000, 0.06, 2e6, 30, oi_sigma_1m_pct=0.01, t_df=6),
         Coin("ETHUSDT", 3_000, 0.08, 1e6, 20, beta=1.2),
         Coin("SOLUSDT", 150, 0.1, 3e5, 10, beta=1.4),
         Coin("XRPUSDT", 2.0, 0.1, 2e5, 8, beta=1.3),
         Coin("THINUSDT", 0.5, 0.3, 300, 0.5, oi_sigma_1m_pct=0.08, beta=1.5, t_df=3)]


@pytest.fixture(scope="module")
def warmed() -> tuple[Market, DetectionRunner, list[Any]]:
    market = Market([copy.copy(c) for c in COINS], seed=11)
    alerts, runner = run(market, WARM_S)
    return market, runner, alerts


def scenario(warmed: tuple[Market, DetectionRunner, list[Any]], seconds: int, shape: Any = None,
             market_shape: Any = None) -> list[Any]:
    market, runner, _ = copy.deepcopy(warmed)
    market.shape, market.market_shape = shape, market_shape
    alerts, _ = run(market, range(WARM_S, WARM_S + seconds), runner=runner)
    return alerts


def test_an_ordinary_market_raises_no_watch_after_warm_up(warmed) -> None:
    assert watch_or_above(warmed[2], after_s=45 * 60) == []
    assert watch_or_above(scenario(warmed, 20 * 60)) == []


def test_a_single_block_print_or_one_huge_print_raises_nothing(warmed) -> None:
    def shape(sym: str, s: int) -> Bend | None:
        if s == WARM_S + 60 and sym == "THINUSDT":
            return Bend(block_usd=2_000_000)  # about 20 days of this coin's trading, flagged BT
        if s == WARM_S + 300 and sym == "SOLUSDT":
            return Bend(print_usd=50_000_000, buy_share=1.0)  # one huge ordinary print
        return None
    assert watch_or_above(scenario(warmed, 10 * 60, shape)) == []


def test_a_symbols_own_crash_in_a_calm_market_is_its_own_event(warmed) -> None:
    start = WARM_S + 60

    def shape(sym: str, s: int) -> Bend | None:
        if sym == "SOLUSDT" and start <= s < start + 90:
            return Bend(ret_pct=-3.5 / 90, volume_mult=8, buy_share=0.15, oi_pct=-6.0 / 90, liq_usd=400_000, liq_long=True)
        return None
    events = watch_or_above(scenario(warmed, 10 * 60, shape))
    assert [e.symbol for e in events] == ["SOLUSDT"], [(e.symbol, e.kind) for e in events]
    e = events[0]
    assert e.kind in (AlertKind.LIQUIDATION_CASCADE, AlertKind.PRICE_MOVE) and not e.evidence.get("market_wide")
    assert e.direction == -1 and e.ts_event_ms - (T0 + start * 1000) <= 60_000


def test_the_whole_market_moving_is_one_market_event_not_one_per_coin(warmed) -> None:
    start = WARM_S + 60
    alerts = scenario(warmed, 10 * 60, market_shape=lambda s: -4.0 / 120 if start <= s < start + 120 else 0.0)
    events = watch_or_above(alerts)
    market = [e for e in events if e.symbol == MARKET_SYMBOL]
    assert len(market) == 1 and market[0].kind is AlertKind.MARKET_MOVE and market[0].direction == -1
    coins = [e for e in events if e.symbol != MARKET_SYMBOL]
    assert len(coins) <= 1, [(e.symbol, e.kind, e.evidence["lines"][0]) for e in coins]


def test_one_pump_is_one_event_named_pump_and_dump_and_its_dump_is_told_on_it(warmed) -> None:
    start = WARM_S + 60

    def shape(sym: str, s: int) -> Bend | None:
        if sym == "XRPUSDT" and start <= s < start + 120:
            return Bend(ret_pct=6.0 / 120, volume_mult=10, buy_share=0.8)
        if sym == "XRPUSDT" and start + 180 <= s < start + 300:
            return Bend(ret_pct=-5.0 / 120, volume_mult=6, buy_share=0.25)
        return None
    alerts = [a for a in scenario(warmed, 12 * 60, shape) if a.symbol == "XRPUSDT"]
    assert len({a.id for a in alerts}) == 1
    first = watch_or_above(alerts)[0]
    assert first.kind is AlertKind.PUMP_AND_DUMP and first.direction == 1
    assert first.ts_event_ms - (T0 + start * 1000) <= 45_000
    dump = [a for a in alerts if a.change is Change.DUMP]
    assert len(dump) == 1 and dump[0].severity is max((a.severity for a in alerts), key=lambda s: s.rank)
    assert dump[0].evidence["phase"] == "dump"
    assert dump[0].evidence["lines"][0].startswith("Dump: gave back")


def test_new_thresholds_are_taken_at_the_next_second_boundary(warmed) -> None:
    market, runner, _ = copy.deepcopy(warmed)
    strict = DetectionSettings(watch_per_day=0.05, high_per_day=0.005)
    seen = []

    def on_second(s: int, r: DetectionRunner) -> None:
        if s == WARM_S + 5:
            r.set_thresholds(strict)
            seen.append(r.thresholds)  # the second under way keeps the old set
    run(market, range(WARM_S, WARM_S + 10), runner=runner, on_second=on_second)
    assert seen[0] is not strict and runner.thresholds is strict


def test_the_same_input_gives_the_same_alerts(warmed) -> None:
    def shape(sym: str, s: int) -> Bend | None:
        return Bend(ret_pct=0.05, volume_mult=6, buy_share=0.8) if sym == "ETHUSDT" and s >= WARM_S + 30 else None
    a, b = scenario(warmed, 5 * 60, shape), scenario(warmed, 5 * 60, shape)
    assert [x.to_dict() for x in a] == [x.to_dict() for x in b] and a


def test_a_listing_is_followed_and_a_delisting_dropped_while_running(warmed) -> None:
    market, runner, _ = copy.deepcopy(warmed)
    runner.remove_symbol("THINUSDT")
    runner.add_symbol("NEWUSDT")
    market.coins = [c for c in market.coins if c.symbol != "THINUSDT"] + [Coin("NEWUSDT", 1.0, 0.2, 5e3, 2)]
    market._px["NEWUSDT"], market._oi["NEWUSDT"] = 1.0, 1e6
    run(market, range(WARM_S, WARM_S + 120), runner=runner)
    assert runner.symbols == ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "NEWUSDT"]
    assert set(runner.composite_scores()) == set(runner.symbols) and runner.tape.n == 5
