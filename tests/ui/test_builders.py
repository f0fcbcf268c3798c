"""Pure UI builders: formatting, tables, figures and tuning specs, without Streamlit."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, strategies as st

from tests.ui_factories import SYMBOLS, T0_MS, FakeView, make_alert, make_bars, ui_settings
from virtuoso.config import DetectionSettings
from virtuoso.domain.alerts import AlertKind, Severity
from virtuoso.ui import figures, fmt, tables, tuning


@given(st.text())
def test_escaped_text_has_no_live_markup_characters(text):
    out = fmt.md_escape(text)
    stripped = out.replace("\\<", "").replace("\\>", "").replace("\\[", "").replace("\\`", "").replace("\\*", "")
    assert "<" not in stripped and ">" not in stripped and "`" not in stripped and "\n" not in out


def test_one_line_collapses_a_multiline_error():
    assert fmt.one_line("invalid settings:\n  VIRTUOSO_X: bad\n  VIRTUOSO_Y: bad") == \
        "invalid settings: VIRTUOSO_X: bad VIRTUOSO_Y: bad"


@pytest.mark.parametrize(("key", "value", "shown"), [
    ("queue_depth", 1234, "1,234"), ("connected", True, "yes"), ("lag_ms", 12, "12 ms"),
    ("size_bytes", 2_000_000, "2.00MB"), ("msgs_per_s", 27.9, "27.9 /s"), ("age_s", 0.25, "0.25 s"), ("reason", None, "–"), ("last_message_ms", T0_MS - 2_000, None),
])
def test_health_values_are_shown_by_their_unit_suffix(key, value, shown):
    out = fmt.value(key, value, T0_MS)
    assert out == shown if shown else out.endswith("(2.0 s ago)")


def test_overview_puts_flagged_symbols_first_then_the_highest_score(tmp_path):
    view = FakeView(ui_settings(tmp_path))
    alerts = [make_alert("BTCUSDT", AlertKind.PRICE_MOVE, Severity.CRITICAL, T0_MS - 60_000),
              make_alert("ETHUSDT", AlertKind.OI_SURGE, Severity.WATCH, T0_MS - 2 * 3_600_000)]  # too old: not active
    df = tables.overview_frame(view.snapshots(), view.composite_scores(), alerts, {}, T0_MS, SYMBOLS)
    assert list(df["symbol"]) == ["BTCUSDT", "SOLUSDT", "ETHUSDT"]
    assert list(df["flags"]) == ["1 critical", "", ""]
    summary = tables.market_summary(df)
    # BTCUSDT's score is its critical flag's (82), not the 12 of this second.
    assert df.loc[0, "score"] == 82.0
    assert summary["flagged"] == 1 and summary["max_score_symbol"] == "BTCUSDT"


def test_overview_of_a_symbol_without_data_yet_is_a_row_of_unknowns():
    df = tables.overview_frame({}, {}, [], {}, T0_MS, ["NEWUSDT"])
    assert df.loc[0, "symbol"] == "NEWUSDT" and math.isnan(df.loc[0, "price"]) and df.loc[0, "trend"] == []


def test_market_figure_has_five_panels_and_alert_markers_with_evidence():
    bars = make_bars("SOLUSDT", T0_MS, 360)
    fig = figures.market_figure("SOLUSDT", bars, [make_alert(ts_ms=T0_MS - 3_600_000)])
    names = [t.name for t in fig.data]
    assert names[0] == "price" and "pump and dump (1)" in names and {"OI", "funding", "long liq"} <= set(names)
    marker = next(t for t in fig.data if t.name == "pump and dump (1)")
    assert marker.customdata[0][1] == "high" and "volume: 9.5x" in marker.customdata[0][4]
    assert fig.layout.hovermode == "closest"  # a hover shows this marker's evidence, not a neighbour's
    assert figures.market_figure("SOLUSDT", [], []).layout.annotations[0].text.startswith("No 1-minute bars")


def test_slider_specs_cover_every_threshold_and_presets_stay_in_range():
    specs = tuning.slider_specs()
    assert [s.name for s in specs] == list(DetectionSettings.model_fields)
    for name in tuning.PRESETS:
        values = tuning.preset(name)
        DetectionSettings(**values)  # valid
        for s in specs:
            assert s.lo <= values[s.name] <= s.hi
    assert tuning.preset("balanced") == tuning.values_of(DetectionSettings())
    strict, loose = tuning.preset("conservative"), tuning.preset("aggressive")
    assert strict["price_move_min_pct"] > loose["price_move_min_pct"] and strict["watch_per_day"] < loose["watch_per_day"]
    assert strict["high_per_day"] < DetectionSettings().high_per_day < loose["high_per_day"]  # budgets: lower is stricter
    assert strict["history_hours"] == loose["history_hours"]  # a history length is not a level


def test_backtest_counts_table_has_a_total_per_symbol():
    df = tables.counts_frame({"A": {"price_move": 2}, "B": {"price_move": 1, "oi_surge": 3}}, ["oi_surge", "price_move"])
    assert list(df["symbol"]) == ["B", "A"] and list(df["total"]) == [4, 2]
