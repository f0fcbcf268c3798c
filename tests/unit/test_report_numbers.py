"""The PDF's numbers as a trader reads them: one format per column, units, prices at the tick,
figures that agree with each other, evidence in words (no ellipsis, no scientific notation)."""

from __future__ import annotations

import re

from tests.report_factories import NOW_MS, make_alert, make_bars
from virtuoso.config import AlertPolicySettings, DetectionSettings
from virtuoso.domain.alerts import AlertKind, Severity
from virtuoso.reports import numbers
from virtuoso.reports.charts import axis_number
from virtuoso.reports.compose import ReportInputs, compose
from virtuoso.reports.render import build_html

HOUR_MS = 3_600_000


def _btc_bars() -> list:
    """BTC on its 0.1 tick, with 185 M USD of long and 228,490 USD of short liquidations."""
    bars = []
    for i, b in enumerate(make_bars("BTCUSDT", price=87_800.0, simulated=False)):
        close = round(b.close, 1)
        long_liq = 185_000_000 / close if i == 10 else 0.0
        short_liq = 228_490 / close if i == 20 else 0.0
        bars.append(b._replace(close=close, high=round(b.high, 1), low=round(b.low, 1),
                                        long_liq_volume=long_liq, short_liq_volume=short_liq))
    return bars


def _report(alerts=()):
    return compose(ReportInputs(
        start_ms=NOW_MS - 2 * HOUR_MS, end_ms=NOW_MS, generated_ms=NOW_MS + 5_000, symbols=("BTCUSDT",),
        source_name="bybit", source_simulated=False, source_reason="test", bars={"BTCUSDT": _btc_bars()},
        alerts=list(alerts), thresholds=DetectionSettings(), policy=AlertPolicySettings()))


def test_a_column_of_amounts_is_written_in_one_unit():
    unit, cells = numbers.scaled_column([185_120_000, 228_490])
    assert unit == "M USD" and cells == ["185.12", "0.23"]
    assert numbers.scaled_column([554.4, 12.0]) == ("USD", ["554", "12"])


def test_a_share_never_rounds_the_other_side_away():
    assert numbers.share_pct(185_000_000, 185_228_490) == "99.9 %"
    assert numbers.share_pct(1, 1) == "100 %" and numbers.share_pct(0, 5) == "0 %"


def test_liquidations_line_agrees_with_the_figures_beside_it():
    lines = " ".join(_report().institutional)
    assert "99.9 % longs" in lines and "185.00 M USD of longs" in lines and "228.49 k USD of shorts" in lines
    assert "100% longs" not in lines and "100 % longs" not in lines


def test_prices_are_at_the_tick_with_separators_and_amounts_have_units():
    html = build_html(_report(), [])
    last = _btc_bars()[-1].close
    assert f"{last:,.1f}" in html and f"{last:,.4f}" not in html  # 87,816.5, not 87,816.5000
    assert "Long liq. (M USD)" in html and "Short liq. (M USD)" in html and "Volume (" in html
    assert re.search(r"average trade [\d,.]+ (k |M )?USD", html)


def test_evidence_is_in_words_with_no_ellipsis_and_no_scientific_notation():
    flat = make_alert("BTCUSDT", NOW_MS - 600_000, AlertKind.LIQUIDATION_CASCADE, Severity.HIGH, 80.0,
                      simulated=False, liquidations_usd_1m=4.468e7, threshold_liq_usd=2.5e5)
    words = make_alert("BTCUSDT", NOW_MS - 300_000, AlertKind.OI_SURGE, Severity.WATCH, 60.0, simulated=False,
                       lines=["OI +3.2 % in 5 min - 4.1x this coin's usual 5-minute move (alarm at 1.5 %)"])
    rows = {r.kind: r.evidence for r in _report([flat, words]).alert_rows}
    assert rows["liquidation_cascade"] == "liquidations usd 1m: 44,680,000; threshold liq: 250,000 USD"
    assert rows["oi_surge"].startswith("OI +3.2 % in 5 min")
    for text in rows.values():
        assert "\u2026" not in text and not re.search(r"\de[+-]\d", text)


def test_chart_axes_use_plain_numbers_with_k_and_m_never_an_offset():
    assert axis_number(87_800) == "87,800" and axis_number(185_000_000) == "185M"
    assert axis_number(0.0123) == "0.0123" and axis_number(250_000) == "250k"
