"""Outcomes (pure): returns, moves for and against the alert, usual move, hit, OI/funding reversion,
the table per kind and severity, and the measured Trading Outlook sentence."""

from __future__ import annotations

import math

import pytest

from tests.delivery_factories import ALERT_MINUTE, T0_MS, USUAL_MOVE_PCT, known_path, path_bars, trend_path
from virtuoso.alerting.outcomes import Outcome, compute_outcome, outcome_table, outlook_note, usual_move_pct

TS = T0_MS + ALERT_MINUTE * 60_000 + 30_000  # inside the alert's minute


def base(direction: int = 1, kind: str = "pump_and_dump", severity: str = "high", symbol: str = "SOLUSDT",
         event_id: str = "e1") -> Outcome:
    return Outcome(event_id, symbol, kind, severity, direction, TS)


def known_bars(minutes: int | None = None) -> list:
    closes, oi, funding = known_path()
    n = minutes or len(closes)
    return path_bars("SOLUSDT", T0_MS, closes[:n], oi=oi[:n], funding=funding[:n])


def test_a_pump_that_reverses_is_measured_at_every_horizon() -> None:
    o = compute_outcome(base(+1), known_bars(), hit_multiple=2.0)
    assert o.stage == "4h" and o.complete
    assert o.ret_5m_pct == pytest.approx(2.0, abs=1e-9)
    assert o.ret_1h_pct == pytest.approx(-1.0, abs=1e-9)
    assert o.ret_4h_pct == pytest.approx(-3.0, abs=1e-9)
    assert o.max_up_1h_pct == pytest.approx(5.0, abs=1e-9) and o.max_down_1h_pct == pytest.approx(-1.5, abs=1e-9)
    assert o.move_for_1h_pct == pytest.approx(5.0, abs=1e-9) and o.move_against_1h_pct == pytest.approx(1.5, abs=1e-9)
    assert o.usual_move_1h_pct == pytest.approx(USUAL_MOVE_PCT, rel=1e-9)
    assert o.hit is True and o.reversed_1h is True
    assert o.oi_change_into_pct == pytest.approx(3.0, abs=1e-9) and o.oi_reverted_1h is True
    assert o.funding_change_into == pytest.approx(0.0004, abs=1e-12) and o.funding_reverted_1h is False


def test_a_short_call_against_a_steady_rise_is_a_miss_that_reversed() -> None:
    bars = path_bars("BTCUSDT", T0_MS, trend_path())
    o = compute_outcome(base(-1, "price_move", symbol="BTCUSDT"), bars, hit_multiple=2.0)
    assert o.ret_1h_pct == pytest.approx(USUAL_MOVE_PCT, rel=1e-9)
    assert o.move_for_1h_pct == 0.0 and o.move_against_1h_pct == pytest.approx(USUAL_MOVE_PCT, rel=1e-9)
    assert o.hit is False and o.reversed_1h is True
    assert o.oi_reverted_1h is None and o.funding_reverted_1h is None  # no OI or funding data


def test_horizons_are_measured_only_once_their_minute_has_closed() -> None:
    o = compute_outcome(base(), known_bars(ALERT_MINUTE + 5), 2.0)
    assert o.stage == "pending" and o.ret_5m_pct is None
    o = compute_outcome(base(), known_bars(ALERT_MINUTE + 6), 2.0)
    assert o.stage == "5m" and o.ret_1h_pct is None and o.move_for_1h_pct is None and o.hit is None
    o = compute_outcome(base(), known_bars(ALERT_MINUTE + 61), 2.0)
    assert o.stage == "1h" and o.ret_4h_pct is None and o.hit is True


def test_an_event_without_a_direction_counts_the_larger_move_either_way() -> None:
    o = compute_outcome(base(0, "volume_spike"), known_bars(), 2.0)
    assert o.move_for_1h_pct == pytest.approx(5.0) and o.move_against_1h_pct is None and o.reversed_1h is None


def test_the_usual_move_needs_history_and_falls_back_to_scaled_five_minute_moves() -> None:
    bars = path_bars("X", T0_MS, trend_path(200))
    assert usual_move_pct(bars, T0_MS + 30 * 60_000) is None  # 30 min: too little
    short = usual_move_pct(bars, T0_MS + 60 * 60_000)  # 1 h: five-minute moves scaled to an hour
    assert short == pytest.approx((1.0001 ** 5 - 1) * 100 * math.sqrt(12), rel=1e-9)
    assert usual_move_pct(bars, T0_MS + 130 * 60_000) == pytest.approx(USUAL_MOVE_PCT, rel=1e-9)


def test_no_bar_at_the_alert_means_nothing_is_measured() -> None:
    assert compute_outcome(base(), [], 2.0) == base()


def test_the_table_counts_hits_and_reversals_per_kind_and_severity() -> None:
    full = compute_outcome(base(+1), known_bars(), 2.0)
    rows = outcome_table([full, Outcome.from_dict({**full.to_dict(), "event_id": "e2", "hit": False}),
                          base(+1, severity="watch", event_id="e3")])
    (high, watch) = rows
    assert (high.kind, high.severity, high.events, high.measured_1h, high.hits, high.reversed_1h) == \
        ("pump_and_dump", "high", 2, 2, 1, 2)
    assert high.hit_rate == 0.5 and high.median_ret_1h_pct == pytest.approx(-1.0)
    assert (watch.severity, watch.events, watch.measured_1h, watch.hit_rate) == ("watch", 1, 0, None)


def test_the_outlook_note_says_what_past_events_did_on_the_coin_then_on_every_coin() -> None:
    full = compute_outcome(base(+1), known_bars(), 2.0)
    past = [Outcome.from_dict({**full.to_dict(), "event_id": f"e{i}", "reversed_1h": i < 7}) for i in range(9)]
    note = outlook_note(past, "SOLUSDT", "pump_and_dump", 2.0)
    assert note.startswith("Past pump and dump events on SOLUSDT: 7 of 9 reversed within 1 h; 9 of 9 moved")
    other = outlook_note(past, "DOGEUSDT", "pump_and_dump", 2.0)
    assert "On every coin: 7 of 9 reversed" in other
    assert "No measured outcomes" in outlook_note([], "SOLUSDT", "oi_surge", 2.0)
    assert Outcome.from_dict(full.to_dict()).to_dict() == full.to_dict()  # JSON round trip (6 decimals)
