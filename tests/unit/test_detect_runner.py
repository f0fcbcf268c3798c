"""The detection runner end to end on a hand-built Bybit stream: exact alerts, stable ids."""

from __future__ import annotations

from typing import Any, Iterator

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
SPIKE_S = 150 * 60  # a burst of 12x volume for 90 s starts here
JUMP_S = 175 * 60  # price jumps 3 % and stays


def stream(end_s: int = 190 * 60) -> Iterator[dict[str, Any]]:
    """One trade per second at a steady price, a ticker every 10 s; then a volume burst and a jump."""
    for s in range(end_s):
        ts = T0 + s * 1000
        price = 100.0 + (0.01 if s % 2 else -0.01)
        if s >= JUMP_S:
            price *= 1.03
        size = 12.0 if SPIKE_S <= s < SPIKE_S + 90 else 1.0
        yield ws_trade("BTCUSDT", ts + 500, round(price, 4), size, "Buy" if s % 2 else "Sell", s)
        if s % 10 == 0:
            yield ws_ticker("BTCUSDT", ts + 600, round(price, 4), 1_000.0, snapshot=(s == 0))


def replay(thresholds: DetectionSettings | None = None) -> tuple[list[Alert], DetectionRunner]:
    runner = DetectionRunner(thresholds or DetectionSettings(), AlertPolicySettings(), ["BTCUSDT"], simulated=False)
    bus, alerts = AlertBus(), []
    bus.subscribe_alerts("test", alerts.extend)
    pipeline = Pipeline(BybitParser(), MarketState(["BTCUSDT"], 1800, 2880), runner, bus, ManualClock())
    for msg in stream():
        pipeline.on_message(msg, msg["ts"] * 1_000_000)
    pipeline.finish()
    return alerts, runner


def test_a_replayed_stream_raises_exactly_the_expected_alerts() -> None:
    alerts, _ = replay()
    got = [(a.kind.value, a.severity.value, (a.ts_event_ms - T0) // 1000) for a in alerts]
    assert got == EXPECTED


def test_an_escalation_keeps_the_episode_id_and_evidence_names_the_thresholds() -> None:
    alerts, _ = replay()
    spike = [a for a in alerts if a.kind.value == "volume_spike"]
    assert len({a.id for a in spike}) == 1 and [a.severity.value for a in spike] == ["watch", "high", "critical"]
    assert spike[0].evidence["threshold_ratio"] == 4.5 and spike[0].evidence["volume_ratio_fast"] >= 4.5
    assert all(0 <= a.score <= 100 and not a.simulated for a in alerts)


def test_the_same_input_gives_the_same_alerts() -> None:
    a, _ = replay()
    b, _ = replay()
    assert [x.to_dict() for x in a] == [x.to_dict() for x in b]


def test_new_thresholds_take_effect_at_once() -> None:
    strict = DetectionSettings(volume_spike_ratio=20.0, price_move_min_pct=5.0)
    alerts, runner = replay(strict)
    assert alerts == [] and runner.thresholds.volume_spike_ratio == 20.0
    runner.set_thresholds(DetectionSettings())
    assert runner.thresholds.volume_spike_ratio == 4.5


def test_composite_scores_and_evidence_cover_every_symbol_and_kind() -> None:
    _, runner = replay()
    assert set(runner.composite_scores()) == {"BTCUSDT"}
    assert 0 <= runner.composite_scores()["BTCUSDT"] <= 100
    assert set(runner.latest_evidence()["BTCUSDT"]) == {
        "oi_surge", "volume_spike", "price_move", "oi_price_divergence", "pump_and_dump", "liquidation_cascade"}


# Worked by hand: the baseline is 1 unit per second. At 12 units/s the 30 s window reaches 5x after
# 11 s and the 2-minute window 2.5x after 17 s (watch); high (1.6x) needs 2-minute volume of 4x,
# after 33 s. The 3 % jump is far beyond 6 sigma of a 0.01 wiggle and 0.8 %: critical at once.
EXPECTED: list[tuple[str, str, int]] = [
    # 12x volume against a 4.5x threshold: 30 s at 4.5x and two minutes at half that after 14 s,
    # 1.6 times both (high) after 29 s, 2.5 times (critical) after 51 s
    ("volume_spike", "watch", SPIKE_S + 14),
    ("volume_spike", "high", SPIKE_S + 29),
    ("volume_spike", "critical", SPIKE_S + 51),
    ("price_move", "critical", JUMP_S + 1),
]
