"""The chart in an alert message: four panels with units, UTC times, the alert marked, the watermark."""

from __future__ import annotations

import pytest

from tests.delivery_factories import T0_MS, sol_bars
from virtuoso.alerting.event_chart import PNG_MAGIC, ChartRequest, build_figure, render_png
from virtuoso.sinks.charts import chart_bars
from tests.state_factories import bar_1m


def request(simulated: bool = False, bars: tuple = ()) -> ChartRequest:
    return ChartRequest("e1", "SOLUSDT", "pump_and_dump", "high", T0_MS + 110 * 60_000, 1, simulated,
                        bars or tuple(sol_bars()))


def test_the_chart_has_price_volume_oi_and_liquidations_with_units_and_utc_times() -> None:
    fig = build_figure(request())
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert labels == ["price (USDT)", "volume\n(SOL)", "open interest\n(SOL)", "liquidations\n(USDT)"]
    assert fig.axes[-1].get_xlabel() == "time (UTC)"
    assert "UTC" in fig.axes[0].get_title() and "pump and dump" in fig.axes[0].get_title()
    # the alert is marked on every panel (a dashed line at its time)
    assert all(any(ln.get_linestyle() == "--" for ln in ax.get_lines()) for ax in fig.axes)
    assert not any("SIMULATED" in t.get_text() for t in fig.texts)


def test_simulated_data_carries_the_watermark_and_real_data_never_does() -> None:
    assert any(t.get_text() == "SIMULATED" for t in build_figure(request(simulated=True)).texts)
    real, sim = render_png(request()), render_png(request(simulated=True))
    assert real.startswith(PNG_MAGIC) and sim.startswith(PNG_MAGIC) and real != sim


def test_no_bars_is_an_error_not_an_empty_picture() -> None:
    with pytest.raises(ValueError):
        render_png(ChartRequest("e1", "SOLUSDT", "pump_and_dump", "high", T0_MS, 1, False, ()))


def test_the_minute_in_progress_is_folded_from_one_second_bars() -> None:
    closed = [bar_1m(T0_MS, close=100.0)]
    seconds = [bar_1m(T0_MS + 60_000 + i * 1000, close=100.0 + i, volume=2.0)._replace(interval_s=1) for i in range(5)]
    out = chart_bars(closed, seconds)
    assert len(out) == 2 and out[-1].start_ms == T0_MS + 60_000 and out[-1].close == 104.0 and out[-1].volume == 10.0
