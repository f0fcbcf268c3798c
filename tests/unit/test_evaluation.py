"""Scoring rules on hand-made alert lines and labels: events, matching, tiers, MARKET, warm-up."""

from __future__ import annotations

import math

import pytest

from virtuoso.detect.evaluation import (
    Label,
    Line,
    Scoreboard,
    build_events,
    line_from_dict,
    lines_from_alerts,
    poisson_upper,
)
from virtuoso.domain.alerts import Alert, AlertKind, Change, Severity

T0 = 1_736_121_600_000
H = 3_600_000
DAY = 86_400_000
TIERS = {"BTCUSDT": "T1 major", "ZROUSDT": "T3 mid", "THINUSDT": "T4 thin"}


def line(eid: str, sym: str, kind: str, sev: str, t_s: float, change: str = "new") -> Line:
    return line_from_dict({"id": eid, "symbol": sym, "kind": kind, "severity": sev,
                           "ts_event_ms": T0 + int(t_s * 1000), "change": change})


def label(kind: str, sym: str, start_s: float, dur_s: float, amp: float = 0.05) -> Label:
    return Label(kind, sym, T0 + int(start_s * 1000), T0 + int((start_s + dur_s) * 1000), amp)


def board(lines, labels, warmup_s: float = 3_600.0, days: float = 1.0) -> Scoreboard:
    b = Scoreboard("test")
    b.add_run(lines, labels, TIERS, T0, T0 + int(days * DAY), warmup_s)
    return b


def test_an_event_is_raised_at_its_first_watch_line_with_that_lines_kind_and_ends_with_its_last():
    lines = [line("a", "ZROUSDT", "volume_spike", "info", 4_000), line("a", "ZROUSDT", "volume_spike", "watch", 4_010),
             line("a", "ZROUSDT", "pump_and_dump", "high", 4_030, "reclassified"),
             line("a", "ZROUSDT", "pump_and_dump", "info", 4_500, "ended"), line("b", "ZROUSDT", "oi_surge", "info", 4_100)]
    events = build_events(lines)
    assert len(events) == 1  # b never reached watch
    e = events[0]
    assert (e.raised_ms, e.primary_kind, e.final_kind, e.max_rank) == (T0 + 4_010_000, "volume_spike", "pump_and_dump", 2)
    assert [k for _, k in e.hits] == ["volume_spike", "pump_and_dump"]  # the ended line is not a hit


def test_a_pump_seen_first_as_a_volume_spike_is_detected_a_true_positive_but_not_primary_kind():
    lines = [line("a", "ZROUSDT", "volume_spike", "watch", 4_010),
             line("a", "ZROUSDT", "pump_and_dump", "high", 4_030, "reclassified")]
    f = board(lines, [label("pump_and_dump", "ZROUSDT", 4_000, 600)]).figures()
    assert f["recall"]["pump_and_dump"] == 1.0 and f["recall_named"]["pump_and_dump"] == 1.0
    assert f["median_latency_s"]["pump_and_dump"] == 10.0  # first line at watch+, whatever its kind
    assert f["precision"] == 1.0 and f["precision_primary"] == 0.0 and f["precision_final"] == 1.0
    assert f["false_alarms"] == {"watch": 0, "high": 0}


def test_detection_needs_a_watch_line_on_the_symbol_inside_the_label_plus_grace():
    lab = [label("oi_surge", "ZROUSDT", 5_000, 300), label("price_move", "BTCUSDT", 8_000, 60)]
    lines = [line("late", "ZROUSDT", "oi_surge", "watch", 5_000 + 300 + 121),  # after end + 120 s grace
             line("other", "THINUSDT", "price_move", "high", 8_010),  # another symbol
             line("ended", "BTCUSDT", "price_move", "watch", 8_020, "ended")]
    f = board(lines, lab).figures()
    assert f["recall"]["oi_surge"] == 0.0 and f["recall"]["price_move"] == 0.0
    assert f["false_alarms"]["watch"] == 2  # late and other; "ended" never raised its event
    assert f["precision"] == 0.0
    on_time = board([line("x", "ZROUSDT", "divergence_of_sorts", "watch", 5_000 + 300 + 119)], lab).figures()
    assert on_time["recall"]["oi_surge"] == 1.0 and on_time["recall_named"]["oi_surge"] == 0.0


def test_an_event_open_before_a_manipulation_detects_it_by_escalating_but_is_itself_a_false_alarm():
    lines = [line("a", "BTCUSDT", "volume_spike", "watch", 4_000),
             line("a", "BTCUSDT", "volume_spike", "critical", 6_030, "escalated")]
    f = board(lines, [label("volume_spike", "BTCUSDT", 6_000, 120)]).figures()
    assert f["recall"]["volume_spike"] == 1.0 and f["median_latency_s"]["volume_spike"] == 30.0
    assert f["false_alarms"] == {"watch": 1, "high": 1}  # raised outside any label; counted at its highest severity


def test_false_alarms_are_per_tier_per_symbol_day_and_carry_their_hard_negative_context():
    negs = [Label("funding_time", "*", T0 + 7 * H + 55 * 60_000, T0 + 8 * H + 5 * 60_000, 2.0),
            Label("block_print", "THINUSDT", T0 + 10 * H, T0 + 10 * H + 1_000, 4.0)]
    lines = [line("f", "BTCUSDT", "volume_spike", "watch", 8 * 3_600),  # at the settlement
             line("b", "THINUSDT", "volume_spike", "high", 10 * 3_600 + 30),  # 30 s after a block print
             line("n", "THINUSDT", "oi_surge", "watch", 12 * 3_600)]
    b = board(lines, negs, warmup_s=0.0, days=2.0)
    assert b.symbol_days == {"T1 major": 2.0, "T3 mid": 2.0, "T4 thin": 2.0}
    thin, btc, mid = b.figures("T4 thin"), b.figures("T1 major"), b.figures("T3 mid")
    assert thin["fa_per_symbol_day"] == {"watch": 1.0, "high": 0.5}
    assert btc["fa_per_symbol_day"] == {"watch": 0.5, "high": 0.0}
    assert mid["fa_per_symbol_day"]["watch"] == 0.0 and mid["fa_upper95_per_symbol_day"]["watch"] == pytest.approx(1.5, 0.01)
    pooled = b.figures()
    assert pooled["fa_per_symbol_day"]["watch"] == pytest.approx(3 / 6)
    assert pooled["fa_context"] == {"block_print": 1, "funding_time": 1, "none": 1}
    assert pooled["fa_kinds"] == {"volume_spike": 2, "oi_surge": 1}
    checks = b.checks()
    assert checks["T3 mid: false alarms high+"] and checks["T4 thin: false alarms watch+"]  # 1.0 <= 1
    assert not checks["T4 thin: false alarms high+"] and not checks["all: false alarms high+"]


def test_market_events_are_counted_apart_and_large_planted_moves_must_be_announced():
    moves = [Label("market_move", "*", T0 + 2 * H, T0 + 2 * H + 600_000, -0.06),
             Label("market_move", "*", T0 + 5 * H, T0 + 5 * H + 600_000, 0.04),
             Label("market_move", "*", T0 + 9 * H, T0 + 9 * H + 600_000, 0.01)]  # small: not required
    lines = [line("m1", "MARKET", "market_move", "high", 2 * 3_600 + 45),
             line("m2", "MARKET", "market_move", "watch", 20 * 3_600),
             line("s", "BTCUSDT", "price_move", "watch", 2 * 3_600 + 50)]  # a symbol during the move: its false alarm
    b = board(lines, moves)
    m = b.market()
    assert (m["market_events"], m["large_moves"], m["announced"], m["median_latency_s"]) == (2, 2, 1, 45.0)
    f = b.figures()
    assert f["events"] == 1 and f["false_alarms"]["watch"] == 1 and f["fa_context"] == {"market_move": 1}


def test_the_warm_up_is_not_scored_but_a_label_begun_in_it_still_covers_a_later_event():
    lab = [label("oi_price_divergence", "ZROUSDT", 3_000, 1_200)]  # starts in the first hour, ends after it
    lines = [line("w", "BTCUSDT", "volume_spike", "critical", 100), line("t", "ZROUSDT", "oi_price_divergence", "watch", 3_900)]
    f = board(lines, lab).figures()
    assert f["labels"]["oi_price_divergence"] == 0  # not counted for recall
    assert f["events"] == 1 and f["precision"] == 1.0 and f["false_alarms"]["watch"] == 0
    assert board(lines, lab).symbol_days["T1 major"] == pytest.approx(23 / 24)


def test_old_per_kind_alerts_score_as_one_event_per_id():
    def alert(eid: str, kind: AlertKind, sev: Severity, t_s: int) -> Alert:
        return Alert(eid, "ZROUSDT", kind, sev, 60.0, T0 + t_s * 1000, {"level": 1.2})

    alerts = [alert("p", AlertKind.PUMP_AND_DUMP, Severity.WATCH, 4_020), alert("v", AlertKind.VOLUME_SPIKE, Severity.HIGH, 4_015),
              alert("p", AlertKind.PUMP_AND_DUMP, Severity.HIGH, 4_200)]
    assert lines_from_alerts(alerts)[0].change == Change.NEW.value
    f = board(lines_from_alerts(alerts), [label("pump_and_dump", "ZROUSDT", 4_000, 600)]).figures()
    assert f["events"] == 2 and f["precision"] == 1.0 and f["precision_primary"] == 0.5
    assert f["median_latency_s"]["pump_and_dump"] == 15.0


def test_figures_with_nothing_to_measure_are_nan_and_the_poisson_bound_is_right():
    f = board([], []).figures()
    assert math.isnan(f["precision"]) and math.isnan(f["recall"]["oi_surge"]) and f["fa_per_symbol_day"]["watch"] == 0.0
    assert poisson_upper(0) == pytest.approx(3.0, abs=0.05) and poisson_upper(10) == pytest.approx(17.0, abs=0.1)
    assert line_from_dict({"id": "x", "symbol": "A", "kind": "k", "severity": "bogus", "ts_event_ms": 5}).rank == 0
