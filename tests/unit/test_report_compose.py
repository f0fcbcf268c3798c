"""Report composition (pure): labels, fingerprint, resampling, gaps, alert rows, outlook, health."""

from __future__ import annotations

import math

from tests.report_factories import NOW_MS, make_alert, make_bars
from virtuoso.config import AlertPolicySettings, DetectionSettings
from virtuoso.domain.alerts import AlertKind, Severity
from virtuoso.reports.compose import (
    ALERT_ROWS_MAX,
    EVIDENCE_CHARS_MAX,
    ReportInputs,
    compose,
    count_gaps,
    resample,
    settings_fingerprint,
)

HOUR_MS = 3_600_000


def inputs(**kw: object) -> ReportInputs:
    defaults: dict[str, object] = dict(
        start_ms=NOW_MS - 2 * HOUR_MS, end_ms=NOW_MS, generated_ms=NOW_MS + 5_000, symbols=("BTCUSDT",),
        source_name="bybit", source_simulated=False, source_reason="test",
        bars={"BTCUSDT": make_bars("BTCUSDT", simulated=False)}, alerts=[],
        thresholds=DetectionSettings(), policy=AlertPolicySettings(),
    )
    defaults.update(kw)
    return ReportInputs(**defaults)  # type: ignore[arg-type]


def test_a_report_of_real_data_only_is_labelled_real() -> None:
    r = compose(inputs())
    assert (r.simulated, r.source_label) == (False, "REAL")


def test_one_simulated_bar_makes_the_whole_report_simulated_even_from_a_real_source() -> None:
    bars = make_bars("BTCUSDT", simulated=False)
    bars[5] = make_bars("BTCUSDT", simulated=True)[5]
    r = compose(inputs(bars={"BTCUSDT": bars}))
    assert (r.simulated, r.source_label) == (True, "SIMULATED")


def test_one_simulated_alert_makes_the_report_simulated() -> None:
    r = compose(inputs(alerts=[make_alert(simulated=True)]))
    assert r.simulated


def test_a_simulated_source_is_simulated_even_without_data() -> None:
    r = compose(inputs(source_simulated=True, bars={}))
    assert r.source_label == "SIMULATED"


def test_the_fingerprint_is_stable_and_changes_with_any_threshold_or_policy() -> None:
    base = settings_fingerprint(DetectionSettings(), AlertPolicySettings())
    assert base == settings_fingerprint(DetectionSettings(), AlertPolicySettings())
    assert len(base) == 12
    assert base != settings_fingerprint(DetectionSettings(oi_min_pct=4.0), AlertPolicySettings())
    assert base != settings_fingerprint(DetectionSettings(), AlertPolicySettings(cooldown_s=60))
    assert compose(inputs()).fingerprint == base


def test_periods_over_six_hours_chart_five_minute_buckets_that_keep_the_sums() -> None:
    bars = make_bars("BTCUSDT", minutes=24 * 60, simulated=False)
    r = compose(inputs(start_ms=NOW_MS - 24 * HOUR_MS, bars={"BTCUSDT": bars}))
    s = r.sections[0]
    assert (s.bar_minutes, len(s.bars), s.minutes_with_data) == (5, 288, 1440)
    assert math.isclose(sum(b.volume for b in s.bars), sum(b.volume for b in bars))
    assert math.isclose(sum(b.long_liq_volume for b in s.bars), sum(b.long_liq_volume for b in bars))
    assert s.bars[0].open == bars[0].open and s.bars[-1].close == bars[-1].close
    assert s.bars[-1].open_interest == bars[-1].open_interest


def test_short_periods_chart_every_minute() -> None:
    s = compose(inputs()).sections[0]
    assert (s.bar_minutes, len(s.bars)) == (1, 120)


def test_resampling_aligns_buckets_to_the_clock() -> None:
    bars = make_bars("BTCUSDT", end_ms=NOW_MS + 2 * 60_000, minutes=10)  # starts 2 min past a 5-min mark
    out = resample(bars, 5)
    assert [b.start_ms % 300_000 for b in out] == [0, 0, 0]
    assert [b.interval_s for b in out] == [300, 300, 300]


def test_gaps_count_each_missing_stretch_once() -> None:
    bars = make_bars("BTCUSDT", minutes=30)
    kept = bars[:10] + bars[15:20] + bars[21:]
    assert count_gaps(bars) == 0
    assert count_gaps(kept) == 2
    assert compose(inputs(bars={"BTCUSDT": kept})).sections[0].gaps == 2


def test_alert_rows_keep_only_the_period_and_the_chosen_symbols_in_time_order() -> None:
    a_in = make_alert("BTCUSDT", NOW_MS - 60_000, simulated=False)
    a_early = make_alert("BTCUSDT", NOW_MS - 3 * HOUR_MS, simulated=False)
    a_other = make_alert("ETHUSDT", NOW_MS - 60_000, simulated=False)
    a_first = make_alert("BTCUSDT", NOW_MS - HOUR_MS, AlertKind.OI_SURGE, Severity.CRITICAL, 91.4, simulated=False)
    r = compose(inputs(alerts=[a_in, a_early, a_other, a_first]))
    assert [(row.kind, row.severity, row.score) for row in r.alert_rows] == [
        ("oi_surge", "critical", "91"), ("volume_spike", "high", "72")]
    assert r.alert_rows[0].time_utc == "2023-11-14 23:00:00"
    assert r.alerts_total == 2


def test_long_evidence_is_shortened_and_many_alerts_are_capped_with_the_total_kept() -> None:
    alerts = [make_alert("BTCUSDT", NOW_MS - i * 1_000, simulated=False, note="x" * 500)
              for i in range(ALERT_ROWS_MAX + 5)]
    r = compose(inputs(alerts=alerts))
    assert len(r.alert_rows) == ALERT_ROWS_MAX and r.alerts_total == ALERT_ROWS_MAX + 5
    # Whole readings in words: the first line is kept whole, nothing is cut mid-number with an ellipsis.
    assert all("\u2026" not in row.evidence and "e+" not in row.evidence for row in r.alert_rows)
    assert all(row.evidence.startswith("note: xxx") for row in r.alert_rows) and EVIDENCE_CHARS_MAX >= 160


def test_flags_in_force_are_alerts_within_the_cooldown_before_the_period_end() -> None:
    policy = AlertPolicySettings(cooldown_s=600)
    recent = make_alert("BTCUSDT", NOW_MS - 300_000, AlertKind.PUMP_AND_DUMP, score=80.0, simulated=False)
    old = make_alert("BTCUSDT", NOW_MS - 3_000_000, AlertKind.OI_SURGE, score=95.0, simulated=False)
    r = compose(inputs(policy=policy, alerts=[recent, old]))
    row = r.outlook_rows[0]
    assert (row.flags, row.composite_score) == ("pump_and_dump", 80.0)
    assert "cooldown" in r.outlook_score_source


def test_composite_scores_from_the_running_detectors_are_preferred() -> None:
    r = compose(inputs(composite_scores={"BTCUSDT": 64.0}))
    assert r.outlook_rows[0].composite_score == 64.0
    assert r.outlook_score_source.startswith("composite scores from the running detectors")


def test_the_three_summary_parts_say_something_concrete() -> None:
    r = compose(inputs(alerts=[make_alert(simulated=False)]))
    assert "1 symbols over the last 2 h" in r.market_overview[0]
    assert any("Open interest" in line for line in r.institutional)
    assert any("Liquidations" in line for line in r.institutional)
    assert any("1 alerts in the period" in line for line in r.outlook)


def test_health_rows_show_gaps_reconnects_and_delivery_failures() -> None:
    health = {
        "source": {"name": "bybit", "reason": "ok", "reconnects": 3, "gaps_filled": 2, "url": "wss://x"},
        "pipeline": {"messages": 10, "malformed": 1, "queue_dropped": 0},
        "sinks": {"enabled": True, "discord": {"state": "retrying", "sent": 5, "failed": 2, "last_error": "429"}},
        "errors": [{"message": "x"}],
    }
    rows = compose(inputs(health=health)).health
    assert ("source", "reconnects", "3") in rows
    assert ("source", "gaps_filled", "2") in rows
    assert ("sinks.discord", "failed", "2") in rows
    assert ("pipeline", "malformed", "1") in rows
    assert ("errors", "recent warnings", "1") in rows
    assert not any(item == "url" for _, item, _ in rows)


def test_a_symbol_with_markup_passes_through_as_plain_text_and_without_data() -> None:
    evil = '<img src="http://127.0.0.1:9/x">'
    r = compose(inputs(symbols=("BTCUSDT", evil)))
    assert r.symbols == ("BTCUSDT", evil)
    assert r.sections[1].minutes_with_data == 0 and math.isnan(r.sections[1].change_pct)


def test_thresholds_in_force_list_every_detection_setting_with_its_unit() -> None:
    r = compose(inputs(thresholds=DetectionSettings(oi_min_pct=4.5)))
    by_name = {t.name: t for t in r.thresholds}
    assert set(by_name) == set(DetectionSettings.model_fields)
    assert (by_name["oi_min_pct"].value, by_name["oi_min_pct"].unit) == ("4.5", "%")
