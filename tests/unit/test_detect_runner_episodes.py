"""The runner's episode rules on hand-built streams: market-wide moves, and how far a dump escalates."""

from __future__ import annotations

from typing import Any, Callable, Iterator

from tests.state_factories import ws_ticker, ws_trade
from virtuoso.alerting.bus import AlertBus
from virtuoso.app.pipeline import Pipeline
from virtuoso.config import AlertPolicySettings, DetectionSettings
from virtuoso.detect.runner import DetectionRunner
from virtuoso.domain.alerts import Alert
from virtuoso.domain.clock import ManualClock
from virtuoso.ingest.bybit.parse import BybitParser
from virtuoso.state.market import MarketState

T0 = 1_736_121_600_000  # a whole minute
SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
MARKET_S = 150 * 60  # every symbol jumps 3 % here
OWN_S = MARKET_S + 8 * 60  # then BTC alone jumps another 3 %, well inside a 15-minute cooldown

# (symbol, second) -> (price multiple, trade size), or (price multiple, trade size, taker side)
Shape = Callable[[str, int], tuple[Any, ...]]


def stream(symbols: list[str], shape: Shape, end_s: int) -> Iterator[dict[str, Any]]:
    """One trade per second per symbol at a steady price (a ticker every 10 s), bent by ``shape``."""
    for s in range(end_s):
        ts = T0 + s * 1000
        for k, sym in enumerate(symbols):
            mult, size, *side = shape(sym, s)
            price = round((100.0 + (0.01 if s % 2 else -0.01)) * mult, 4)
            yield ws_trade(sym, ts + 100 + k, price, size, side[0] if side else ("Buy" if s % 2 else "Sell"), s)
            if s % 10 == 0:
                yield ws_ticker(sym, ts + 600 + k, price, 1_000.0, snapshot=(s == 0))


def replay(symbols: list[str], shape: Shape, end_s: int) -> list[Alert]:
    runner = DetectionRunner(DetectionSettings(), AlertPolicySettings(), symbols)
    bus, alerts = AlertBus(), []
    bus.subscribe_alerts("test", alerts.extend)
    pipeline = Pipeline(BybitParser(), MarketState(symbols, 1800, 2880), runner, bus, ManualClock())
    for msg in stream(symbols, shape, end_s):
        pipeline.on_message(msg, msg["ts"] * 1_000_000)
    pipeline.finish()
    return alerts


def market_then_own(sym: str, s: int) -> tuple[float, float]:
    mult = 1.03 if s >= MARKET_S else 1.0
    if sym == "BTCUSDT" and s >= OWN_S:
        mult *= 1.03
    return mult, 1.0


def test_a_market_wide_jump_is_info_and_does_not_hold_back_the_symbols_own_move_after_it() -> None:
    moves = [a for a in replay(SYMBOLS, market_then_own, OWN_S + 120) if a.kind.value == "price_move"]
    market = [a for a in moves if a.ts_event_ms < T0 + OWN_S * 1000]
    own = [a for a in moves if a.ts_event_ms >= T0 + OWN_S * 1000]
    assert {a.symbol for a in market} == set(SYMBOLS)
    assert all(a.severity.value == "info" and a.evidence["market_wide"] for a in market)
    assert [(a.symbol, a.severity.value) for a in own] == [("BTCUSDT", "critical")]
    assert (own[0].ts_event_ms - T0) // 1000 == OWN_S + 1


def dip_then_crash(sym: str, s: int) -> tuple[float, float]:
    """Every symbol dips 1 %; three seconds later BTC alone falls on to -6 %."""
    if sym == "BTCUSDT" and s >= MARKET_S + 3:
        return 0.94, 1.0
    return (0.99 if s >= MARKET_S else 1.0), 1.0


def test_a_crash_that_began_with_the_markets_dip_is_flagged_once_it_breaks_away() -> None:
    moves = [a for a in replay(SYMBOLS, dip_then_crash, MARKET_S + 60) if a.kind.value == "price_move"]
    btc = [a for a in moves if a.symbol == "BTCUSDT"]
    assert btc[0].severity.value == "info" and btc[-1].severity.value == "critical"
    assert len({a.id for a in btc}) == 1  # the same episode, now no longer the market's
    assert all(a.severity.value == "info" for a in moves if a.symbol != "BTCUSDT")


PUMP_S = 150 * 60


def pump(rise: float) -> Shape:
    """Price up ``rise`` over a minute on 8x volume, then all of it given back over the next minute."""
    def shape(sym: str, s: int) -> tuple[float, float]:
        k = s - PUMP_S
        if 0 <= k < 60:
            return 1.0 + rise * (k + 1) / 60, 8.0
        if 60 <= k < 120:
            return 1.0 + rise * (119 - k) / 60, 8.0
        return 1.0, 1.0
    return shape


def test_the_dump_escalates_a_real_pump_but_not_one_that_barely_crossed_its_threshold() -> None:
    big = [a for a in replay(["BTCUSDT"], pump(0.03), PUMP_S + 180) if a.kind.value == "pump_and_dump"]
    assert [a.evidence["phase"] for a in big][-1] == "dump" and big[-1].severity.value == "critical"
    assert len({a.id for a in big}) == 1
    small = [a for a in replay(["BTCUSDT"], pump(0.013), PUMP_S + 180) if a.kind.value == "pump_and_dump"]
    assert small and all(a.evidence["phase"] == "pump" for a in small)
    assert {a.severity.value for a in small} == {"watch"}


def early_pump_then_market(sym: str, s: int) -> tuple[Any, ...]:
    """BTC rises 0.5 % in 30 s on 4x volume, all of it bought; 40 s in, every symbol jumps 3 %;
    two minutes later every symbol gives it all back."""
    k = s - PUMP_S
    market = 1.03 if 40 <= k < 160 else 1.0
    if sym == "BTCUSDT" and 0 <= k < 160:
        return (1.0 + 0.005 * min(k + 1, 30) / 30) * market, 4.0, "Buy"
    return market, 1.0


def test_a_pump_watch_opened_just_before_a_market_wide_move_has_its_dump_demoted() -> None:
    alerts = replay(SYMBOLS, early_pump_then_market, PUMP_S + 300)
    btc = [a for a in alerts if a.symbol == "BTCUSDT" and a.kind.value == "pump_and_dump"]
    assert btc[0].severity.value == "watch" and btc[0].evidence["trigger"] == "early"
    assert (btc[0].ts_event_ms - T0) // 1000 < PUMP_S + 40  # seen before the market moved
    dump = [a for a in btc if a.evidence["phase"] == "dump"]
    assert dump and all(a.severity.value == "info" and a.evidence["market_wide"] for a in dump)
    assert len({a.id for a in btc}) == 1
