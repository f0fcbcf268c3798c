"""Charts and HTML building: injectable rendering, failures as placeholders, watermark, escaping."""

from __future__ import annotations

import io

from PIL import Image, ImageChops

from tests.report_factories import HOSTILE, NOW_MS, make_alert, make_bars
from virtuoso.config import AlertPolicySettings, DetectionSettings
from virtuoso.reports.charts import (
    CHART_KINDS,
    PNG_MAGIC,
    ChartRequest,
    MatplotlibCharts,
    chart_requests,
    render_charts,
    rolling_median,
)
from virtuoso.reports.compose import ReportInputs, compose
from virtuoso.reports.render import BLANK_PNG_URI, DataOnlyLinks, build_html, esc

TINY_PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def report(symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT"), simulated: bool = True):  # type: ignore[no-untyped-def]
    bars = {s: make_bars(s, minutes=60, simulated=simulated) for s in symbols}
    return compose(ReportInputs(
        start_ms=NOW_MS - 3_600_000, end_ms=NOW_MS, generated_ms=NOW_MS, symbols=symbols, source_name="t",
        source_simulated=simulated, source_reason="", bars=bars,
        alerts=[make_alert(s, simulated=simulated) for s in symbols],
        thresholds=DetectionSettings(), policy=AlertPolicySettings()))


def test_every_symbol_gets_three_charts_watermarked_exactly_when_simulated() -> None:
    sim = chart_requests(report(simulated=True))
    real = chart_requests(report(simulated=False))
    assert [(r.symbol, r.kind) for r in sim] == [(s, k) for s in ("BTCUSDT", "ETHUSDT") for k, _ in CHART_KINDS]
    assert all(r.simulated for r in sim) and not any(r.simulated for r in real)


def test_a_failing_renderer_leaves_the_other_charts_and_says_why() -> None:
    def renderer(req: ChartRequest) -> bytes:
        if req.kind == "volume":
            raise RuntimeError("disk full")
        return TINY_PNG

    charts = render_charts(chart_requests(report()), renderer)
    failed = [c for c in charts if c.error]
    assert [(c.symbol, c.kind) for c in failed] == [("BTCUSDT", "volume"), ("ETHUSDT", "volume")]
    assert failed[0].error == "RuntimeError: disk full" and failed[0].data_uri is None
    assert sum(1 for c in charts if c.data_uri and c.data_uri.startswith("data:image/png;base64,")) == 4


def test_a_renderer_returning_something_other_than_png_counts_as_a_failure() -> None:
    charts = render_charts(chart_requests(report(("BTCUSDT",))), lambda req: b"<svg/>")
    assert all(c.error and "not a PNG" in c.error for c in charts)


def test_progress_is_reported_per_chart() -> None:
    seen: list[tuple[int, int]] = []
    render_charts(chart_requests(report()), lambda req: TINY_PNG, lambda i, n: seen.append((i, n)))
    assert seen == [(i, 6) for i in range(1, 7)]


def _pixels(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("RGB")


def test_matplotlib_draws_real_pngs_and_the_watermark_only_when_simulated() -> None:
    req = chart_requests(report(("BTCUSDT",)))[0]
    draw = MatplotlibCharts()
    sim = draw(req)
    real = draw(ChartRequest(**{**{f: getattr(req, f) for f in ChartRequest.__dataclass_fields__}, "simulated": False}))
    again = draw(req)
    assert sim.startswith(PNG_MAGIC) and real.startswith(PNG_MAGIC)
    assert ImageChops.difference(_pixels(sim), _pixels(again)).getbbox() is None  # reuse leaves nothing behind
    box = ImageChops.difference(_pixels(sim), _pixels(real)).getbbox()
    assert box is not None
    w, h = _pixels(sim).size
    assert box[0] < w / 2 < box[2] and box[1] < h / 2 < box[3]  # the difference spans the middle


def test_every_chart_kind_draws_with_no_bars_and_with_markup_in_the_symbol() -> None:
    draw = MatplotlibCharts()
    for kind, title in CHART_KINDS:
        for bars in ((), tuple(make_bars(HOSTILE, minutes=30))):
            png = draw(ChartRequest(HOSTILE, kind, title, bars, 1, (make_alert(HOSTILE),), True, 60))
            assert png.startswith(PNG_MAGIC)


def test_the_html_escapes_every_text_and_names_only_data_uris() -> None:
    evil = HOSTILE.format(port=9)
    r = report(("BTCUSDT", evil))
    charts = render_charts(chart_requests(r), lambda req: TINY_PNG)
    doc = build_html(r, charts)
    assert evil not in doc
    assert "&lt;img src=&quot;http://127.0.0.1:9/x&quot;&gt;" in doc
    assert "http://" not in doc.replace("&quot;http://127.0.0.1:9/x&quot;", "")
    assert doc.count('<img src="data:image/png;base64,') == 6


def test_placeholders_and_the_appendix_name_the_failed_chart() -> None:
    r = report(("BTCUSDT",))
    charts = render_charts(chart_requests(r), lambda req: (_ for _ in ()).throw(ValueError("bad <data>")))
    doc = build_html(r, charts)
    assert "Chart unavailable: Price and open interest for BTCUSDT" in doc
    assert "Appendix: chart errors" in doc and "ValueError: bad &lt;data&gt;" in doc


def test_the_simulated_watermark_frame_is_in_the_page_template_only_for_simulated_reports() -> None:
    sim = build_html(report(simulated=True), ())
    real = build_html(report(simulated=False), ())
    assert "watermark_frame" in sim and '<div id="watermark">SIMULATED</div>' in sim
    assert "SIMULATED" not in real


def test_the_link_callback_passes_embedded_images_and_refuses_everything_else() -> None:
    links = DataOnlyLinks()
    ok = "data:image/png;base64,AAAA"
    assert links(ok, None) == ok
    for uri in ("http://127.0.0.1:1/x", "file:///etc/passwd", "/etc/passwd", "data:text/html,<b>", "//host/x"):
        assert links(uri, None) == BLANK_PNG_URI
    assert len(links.refused) == 5


def test_the_volume_baseline_is_the_median_of_the_previous_window_only() -> None:
    values = [1.0, 9.0, 2.0, 8.0, 3.0, 100.0, 4.0]
    out = rolling_median(values, 3)
    assert out[:2] == [out[0], out[1]] and all(x != x for x in out[:2])  # NaN: fewer than two behind
    assert out[2:] == [5.0, 2.0, 8.0, 3.0, 8.0]  # median of the three before, never the bar itself


def test_text_the_standard_fonts_cannot_draw_is_shown_as_visible_escapes() -> None:
    assert esc("BTC\x00USDT") == "BTC\\x00USDT"
    assert esc("\u5e01USDT") == "\\u5e01USDT"
    assert esc("\u202eTDSU") == "\\u202eTDSU"  # a bidi override cannot reorder the printed symbol
    assert esc("\U0001f600") == "\\U0001f600"
    assert esc("a\u2013b \u00e9 <b>&") == "a\u2013b \u00e9 &lt;b&gt;&amp;"
