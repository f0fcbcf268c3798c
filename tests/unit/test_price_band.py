"""The price band: a well-formed print far from the symbol's market is rejected and counted."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings, strategies as st

from tests.state_factories import T0_MS, ticker, trade, ws_ticker, ws_trade
from virtuoso.alerting.bus import AlertBus
from virtuoso.app import cli
from virtuoso.app.pipeline import Pipeline
from virtuoso.config import load_settings
from virtuoso.domain.clock import ManualClock
from virtuoso.ingest.bybit.parse import BybitParser
from virtuoso.state.market import MarketState
from virtuoso.state.price_band import REANCHOR_AFTER, PriceBand


class NoDetection:
    def on_second(self, state, ts_ms):
        return []


def btc_pipeline(band_pct: float) -> tuple[Pipeline, MarketState]:
    state = MarketState(["BTCUSDT"], 600, 180)
    return Pipeline(BybitParser(), state, NoDetection(), AlertBus(), ManualClock(),
                    price_band=PriceBand(band_pct)), state


def feed(pipeline: Pipeline, messages: list[dict]) -> None:
    for m in messages:
        pipeline.on_message(m, m["ts"] * 1_000_000)
    pipeline.finish()


def market_at_65k_with_a_print_at_1() -> list[dict]:
    msgs = [ws_ticker("BTCUSDT", T0_MS, 65_000.0, 1_000.0)]
    for s in range(180):
        ts = T0_MS + s * 1000 + 100
        msgs.append(ws_trade("BTCUSDT", ts, 65_000.0 + (s % 7), 0.01, "Buy" if s % 2 else "Sell", s))
        if s == 90:
            msgs.append(ws_trade("BTCUSDT", ts + 1, 1.0, 0.01, "Sell", 10_000))  # well-formed, absurd
            msgs.append(ws_ticker("BTCUSDT", ts + 2, 1.0, 1_000.0, snapshot=False))
    return msgs


def test_a_trade_and_a_ticker_at_1_next_to_a_market_at_65000_never_reach_a_bar_and_are_counted():
    pipeline, state = btc_pipeline(25.0)
    feed(pipeline, market_at_65k_with_a_print_at_1())
    bars = state.bars_1m("BTCUSDT") + state.bars_1s("BTCUSDT")
    assert bars and min(b.low for b in bars) >= 65_000.0
    stats = pipeline.stats()
    assert stats["price_rejected_trades"] == 1 and stats["price_rejected_tickers"] == 1
    assert stats["price_band_pct"] == 25.0 and "1" in stats["price_last_rejected"]
    assert state.snapshot("BTCUSDT").last_price >= 65_000.0


def test_without_the_band_the_same_print_would_make_a_1_minute_low_of_1():
    """What the band prevents (and what happened before it): the stray print lands in the bar."""
    pipeline, state = btc_pipeline(0.0)
    feed(pipeline, market_at_65k_with_a_print_at_1())
    assert min(b.low for b in state.bars_1m("BTCUSDT")) == 1.0


def test_the_setting_reaches_the_engine_and_its_health_shows_the_rejections(tmp_path):
    from tests.integration.test_engine import ListSource
    from virtuoso.app.engine import Engine
    from virtuoso.storage.memory import MemoryStore

    with pytest.raises(Exception, match="VIRTUOSO_STATE__PRICE_BAND_PCT"):
        load_settings({"VIRTUOSO_STATE__PRICE_BAND_PCT": "-1"}, env_file=None)
    s = load_settings({"VIRTUOSO_STATE__PRICE_BAND_PCT": "10", "VIRTUOSO_DATA_DIR": str(tmp_path),
                       "VIRTUOSO_SYMBOLS": "BTCUSDT", "VIRTUOSO_RELAY__ENABLED": "false"}, env_file=None)
    msgs = market_at_65k_with_a_print_at_1()
    engine = Engine(s, source=ListSource(msgs), store=MemoryStore()).start()
    try:
        assert engine.wait_until(lambda e: e.health()["pipeline"].get("messages", 0) >= len(msgs), 30)
        health = engine.health()["pipeline"]
        assert health["price_band_pct"] == 10.0
        assert health["price_rejected_trades"] == 1 and health["price_rejected_tickers"] == 1
        assert min(b.low for b in engine.bars_1m("BTCUSDT", 10_000_000)) >= 65_000.0
    finally:
        engine.stop()


def test_replay_counts_rejected_prints_in_its_summary(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    f = tmp_path / "r.jsonl"
    f.write_text("".join(json.dumps(m) + "\n" for m in market_at_65k_with_a_print_at_1()))
    assert cli.main(["replay", str(f)]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["price_rejected"] == 2


def test_a_real_jump_beyond_the_band_is_followed_after_a_run_of_agreeing_prints():
    band = PriceBand(25.0)
    assert band.screen([trade(T0_MS, 100.0)])
    jumped = [trade(T0_MS + i, 200.0 + i * 0.01) for i in range(REANCHOR_AFTER + 5)]
    kept = band.screen(jumped)
    assert len(kept) == 6 and kept[0] is jumped[REANCHOR_AFTER - 1]
    assert band.reanchors == 1 and band.rejected_trades == REANCHOR_AFTER - 1


def test_stray_prints_between_market_prints_never_move_the_band():
    band = PriceBand(25.0)
    for i in range(200):
        band.screen([trade(T0_MS + i, 100.0)])
        assert band.screen([trade(T0_MS + i, 1.0)]) == []
    assert band.reanchors == 0 and band.rejected_trades == 200
    assert band.screen([trade(T0_MS, 101.0)])


def test_zero_nan_and_infinite_trade_prices_are_rejected_and_a_ticker_without_a_price_passes():
    band = PriceBand(25.0)
    for p in (0.0, -5.0, math.nan, math.inf):
        assert band.screen([trade(T0_MS, p)]) == []
    assert band.rejected_trades == 4
    t = ticker(T0_MS, last_price=math.nan)
    assert band.screen([t]) == [t]


def test_every_other_event_and_other_symbols_pass_untouched():
    band = PriceBand(25.0)
    events = [trade(T0_MS, 100.0), trade(T0_MS, 5.0, symbol="DOGEUSDT"), ticker(T0_MS, 110.0)]
    assert band.screen(events) is events  # the common case costs no copy


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=-3.0, max_value=3.0), min_size=1, max_size=60),
       st.floats(min_value=1.0, max_value=100.0))
def test_every_accepted_price_is_within_the_band_of_the_one_accepted_before_unless_re_anchored(steps, pct):
    """Property: between accepted prints the band holds, except at a counted re-anchor."""
    band = PriceBand(pct, reanchor_after=5)
    price, prev, reanchors = 100.0, None, 0
    for step in steps:
        price = max(1e-6, price * math.exp(step))
        kept = band.screen([trade(T0_MS, price)])
        if kept:
            if prev is not None and band.reanchors == reanchors:
                up = 1 + pct / 100
                assert prev / up <= price <= prev * up
            reanchors, prev = band.reanchors, price
