"""The simulator: deterministic Bybit v5 messages that the real parser reads, with visible episodes."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import orjson
import pytest

from virtuoso.domain.alerts import SYMBOL_KINDS
from virtuoso.domain.events import Liquidation, Side, Ticker, Trade
from virtuoso.ingest.bybit.parse import BybitParser
from virtuoso.ingest.simulator import EPISODE_KINDS, NEGATIVE_KINDS, Episode, SimMarket
from virtuoso.ingest.simulator.episodes import BACKGROUND_KINDS
from virtuoso.ingest.simulator.profiles import profile_for

T0_MS = 1_736_121_600_000  # 2025-01-06 00:00 UTC
MAJORS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT"]


@dataclass
class Series:
    """Parsed events of one symbol, by kind."""

    tickers: list[Ticker] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    liqs: list[Liquidation] = field(default_factory=list)

    def price_at(self, ts_ms: int) -> float:
        return next(t.last_price for t in self.tickers if t.ts_event_ms >= ts_ms)

    def oi_at(self, ts_ms: int) -> float:
        return next(t.open_interest for t in self.tickers if t.ts_event_ms >= ts_ms)

    def volume_usd(self, start_ms: int, end_ms: int) -> float:
        return sum(t.price * t.size for t in self.trades if start_ms <= t.ts_event_ms < end_ms)


def parse_all(market: SimMarket, seconds: float) -> tuple[BybitParser, dict[str, Series]]:
    parser, out = BybitParser(), defaultdict(Series)
    for msg, ts in market.run(seconds):
        for ev in parser.parse(msg, ts * 1_000_000):
            s = out[ev.symbol]
            if isinstance(ev, Ticker):
                s.tickers.append(ev)
            elif isinstance(ev, Trade):
                s.trades.append(ev)
            elif isinstance(ev, Liquidation):
                s.liqs.append(ev)
    return parser, out


def market(symbols=("BTCUSDT", "SOLUSDT"), seed=11, scheduled=(), **kw) -> SimMarket:
    kw.setdefault("episodes_per_hour", 0.0)
    kw.setdefault("market_moves_per_day", 0.0)
    kw.setdefault("volatile_per_day", 0.0)
    return SimMarket(list(symbols), seed=seed, start_ms=T0_MS + 3_600_000, scheduled=scheduled, **kw)


def test_episode_kinds_are_the_alert_kind_values():
    assert set(EPISODE_KINDS) == {k.value for k in SYMBOL_KINDS}
    assert NEGATIVE_KINDS == ("market_move", "volatile_normal", "funding_time", "trend_day", "listing_day", "block_print")
    ep = Episode("oi_surge", "BTCUSDT", 1_000, 60, 0.05)
    assert ep.end_ms == 61_000 and Episode.from_dict(ep.to_dict()) == ep


def test_the_same_seed_gives_the_same_stream_and_another_seed_another():
    a = [orjson.dumps(m) for m, _ in SimMarket(MAJORS, seed=5, start_ms=T0_MS, episodes_per_hour=4).run(240)]
    b = [orjson.dumps(m) for m, _ in SimMarket(MAJORS, seed=5, start_ms=T0_MS, episodes_per_hour=4).run(240)]
    c = [orjson.dumps(m) for m, _ in SimMarket(MAJORS, seed=6, start_ms=T0_MS, episodes_per_hour=4).run(240)]
    assert a == b
    assert a != c


def test_the_stream_does_not_depend_on_how_run_is_called():
    one = SimMarket(MAJORS[:2], seed=3, start_ms=T0_MS)
    two = SimMarket(MAJORS[:2], seed=3, start_ms=T0_MS)
    whole = [orjson.dumps(m) for m, _ in one.run(150)]
    parts = [orjson.dumps(m) for d in (0.5, 37, 70.5, 42) for m, _ in two.run(d)]
    assert whole == parts and one.now_ms == two.now_ms == T0_MS + 150_000


def test_every_message_parses_with_the_real_parser_and_nothing_is_malformed():
    m = SimMarket(MAJORS + ["PEPEUSDT"], seed=2, start_ms=T0_MS, episodes_per_hour=6, market_moves_per_day=24)
    parser, series = parse_all(m, 900)
    assert parser.malformed == 0 and parser.unknown == 0, parser.last_error
    assert set(series) == set(MAJORS + ["PEPEUSDT"])
    assert parser.messages > 900 * 6 * 3
    assert all(s.liqs for s in series.values()) or sum(len(s.liqs) for s in series.values()) > 0


def test_messages_are_time_ordered_and_open_with_snapshots():
    msgs = list(SimMarket(MAJORS, seed=4, start_ms=T0_MS + 123, trade_batch_ms=100).run(30))
    assert [ts for _, ts in msgs] == sorted(ts for _, ts in msgs)
    assert all(m["ts"] == ts for m, ts in msgs)
    firsts = {}
    for m, _ in msgs:
        kind = m["topic"].split(".")[0]
        firsts.setdefault((kind, m["topic"].split(".")[-1]), m.get("type"))
    assert all(firsts[("tickers", s)] == "snapshot" and firsts[("orderbook", s)] == "snapshot" for s in MAJORS)
    for m, ts in msgs:
        if m["topic"].startswith("publicTrade."):
            assert all(ts - 100 < t["T"] <= ts for t in m["data"])  # one 100 ms slice per message
            assert set(m["data"][0]) == {"T", "s", "S", "v", "p", "L", "i", "BT"}


def test_warm_up_batching_puts_a_whole_second_of_trades_in_one_message():
    m = SimMarket(["BTCUSDT"], seed=4, start_ms=T0_MS, trade_batch_ms=1000)
    trades = [msg for msg, _ in m.run(20) if msg["topic"].startswith("publicTrade.")]
    assert len(trades) <= 20 and sum(len(t["data"]) for t in trades) > 100


def test_prices_sit_near_realistic_levels_and_unknown_symbols_get_a_stable_one():
    _, series = parse_all(market(MAJORS + ["ABCUSDT"]), 60)
    levels = {"BTCUSDT": 90_000, "ETHUSDT": 3_000, "SOLUSDT": 150, "XRPUSDT": 2, "DOGEUSDT": 0.2}
    for sym, level in levels.items():
        assert abs(series[sym].tickers[-1].last_price / level - 1) < 0.05
    assert profile_for("ABCUSDT") == profile_for("ABCUSDT")
    assert 0.01 <= profile_for("ABCUSDT").price <= 1_000


def test_a_pump_and_dump_raises_price_by_about_its_amplitude_then_retraces_most_of_it():
    ep = Episode("pump_and_dump", "SOLUSDT", T0_MS + 3_600_000 + 120_000, 600, 0.12)
    _, s = parse_all(market(scheduled=[ep]), 900)
    sol = s["SOLUSDT"]
    before, peak_ms = sol.price_at(ep.start_ms), ep.start_ms + int(0.35 * 600) * 1000
    peak = max(t.last_price for t in sol.tickers if ep.start_ms <= t.ts_event_ms <= peak_ms + 20_000)
    after = sol.price_at(ep.end_ms)
    assert 0.08 < peak / before - 1 < 0.17
    assert (after - before) < 0.5 * (peak - before)
    base = sol.volume_usd(ep.start_ms - 120_000, ep.start_ms)
    assert sol.volume_usd(ep.start_ms + 60_000, ep.start_ms + 180_000) > 4 * base


def test_an_oi_surge_raises_open_interest_while_price_stays_near_flat():
    ep = Episode("oi_surge", "BTCUSDT", T0_MS + 3_600_000 + 120_000, 300, 0.08)
    _, s = parse_all(market(scheduled=[ep]), 480)
    btc = s["BTCUSDT"]
    assert btc.oi_at(ep.end_ms) / btc.oi_at(ep.start_ms) - 1 > 0.06
    assert abs(btc.price_at(ep.end_ms) / btc.price_at(ep.start_ms) - 1) < 0.01


def test_oi_price_divergence_raises_oi_while_price_falls_and_the_reverse():
    up = Episode("oi_price_divergence", "BTCUSDT", T0_MS + 3_600_000 + 60_000, 600, 0.09)
    down = Episode("oi_price_divergence", "SOLUSDT", T0_MS + 3_600_000 + 60_000, 600, -0.09)
    _, s = parse_all(market(scheduled=[up, down]), 720)
    btc, sol = s["BTCUSDT"], s["SOLUSDT"]
    assert btc.oi_at(up.end_ms) / btc.oi_at(up.start_ms) - 1 > 0.06
    assert btc.price_at(up.end_ms) < btc.price_at(up.start_ms)
    assert sol.oi_at(down.end_ms) / sol.oi_at(down.start_ms) - 1 < -0.06
    assert sol.price_at(down.end_ms) > sol.price_at(down.start_ms) * 1.01


def test_a_liquidation_cascade_liquidates_longs_knocks_price_down_and_drops_oi():
    ep = Episode("liquidation_cascade", "SOLUSDT", T0_MS + 3_600_000 + 60_000, 90, -0.06)
    _, s = parse_all(market(scheduled=[ep]), 200)
    sol = s["SOLUSDT"]
    inside = [x for x in sol.liqs if ep.start_ms <= x.ts_event_ms < ep.end_ms]
    assert sum(x.size for x in inside) > 0.05 * sol.oi_at(ep.start_ms)
    assert all(x.side is Side.BUY for x in inside if x.size * x.price > 100_000)  # Buy = a long was liquidated
    assert sol.price_at(ep.end_ms) / sol.price_at(ep.start_ms) - 1 < -0.04
    assert sol.oi_at(ep.end_ms) / sol.oi_at(ep.start_ms) - 1 < -0.05


def test_a_volume_spike_multiplies_volume_and_a_price_move_is_abrupt():
    spike = Episode("volume_spike", "BTCUSDT", T0_MS + 3_600_000 + 120_000, 120, 12.0)
    move = Episode("price_move", "SOLUSDT", T0_MS + 3_600_000 + 120_000, 60, -0.05)
    _, s = parse_all(market(scheduled=[spike, move]), 300)
    btc, sol = s["BTCUSDT"], s["SOLUSDT"]
    base = btc.volume_usd(spike.start_ms - 120_000, spike.start_ms)
    assert btc.volume_usd(spike.start_ms + 12_000, spike.end_ms - 12_000) > 5 * base * (96 / 120)
    assert sol.price_at(move.end_ms) / sol.price_at(move.start_ms) - 1 < -0.04


def test_a_market_wide_move_moves_most_symbols_together():
    ep = Episode("market_move", "*", T0_MS + 3_600_000 + 60_000, 300, 0.04)
    _, s = parse_all(market(MAJORS, scheduled=[ep]), 420)
    moves = [s[x].price_at(ep.end_ms) / s[x].price_at(ep.start_ms) - 1 for x in MAJORS]
    assert sum(mv > 0.025 for mv in moves) >= 4, moves


def test_labels_hold_random_episodes_and_hard_negatives_without_overlaps_on_a_symbol():
    m = SimMarket(["BTCUSDT", "ETHUSDT"], seed=9, start_ms=T0_MS - 1_800_000, episodes_per_hour=4,
                  market_moves_per_day=12, volatile_per_day=6, trend_per_day=3, listing_per_day=3)
    for _ in m.run(6 * 3600):
        pass
    kinds = {e.kind for e in m.labels}
    assert set(EPISODE_KINDS) <= kinds
    assert set(NEGATIVE_KINDS) <= kinds
    funding = [e for e in m.labels if e.kind == "funding_time"]
    assert funding[0].symbol == "*" and (funding[0].start_ms + 300_000) % (8 * 3_600_000) == 0
    assert all(e.start_ms < m.now_ms for e in m.labels)
    for sym in ("BTCUSDT", "ETHUSDT"):
        # background regimes (trend, listing days) and single prints may overlap anything
        spans = sorted((e.start_ms, e.end_ms) for e in m.labels if e.symbol in (sym, "*")
                       and e.kind not in ("funding_time", "block_print", *BACKGROUND_KINDS))
        assert all(b[0] >= a[1] for a, b in zip(spans, spans[1:])), sym
    for e in m.labels:
        if e.kind in EPISODE_KINDS:
            assert not any(f.start_ms < e.end_ms and e.start_ms < f.end_ms for f in funding)  # planned around


def test_no_symbols_is_an_error():
    with pytest.raises(ValueError):
        SimMarket([], seed=1, start_ms=T0_MS)
