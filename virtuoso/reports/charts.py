"""Report charts: matplotlib (Agg, no pyplot, no browser) -> PNG bytes -> ``data:`` URIs.

Three charts per symbol: price with open interest, volume against its rolling-median baseline,
and liquidations (longs up, shorts down), each with the symbol's alerts marked as vertical lines
coloured by severity. When the report is simulated every chart carries a SIMULATED watermark.

Rendering is injectable: :func:`render_charts` takes any ``ChartRenderer`` (a callable from a
:class:`ChartRequest` to PNG bytes), so a test can hand it one that fails. A failing chart becomes
a :class:`Chart` with ``error`` set; it never stops the report.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from virtuoso.domain.alerts import Alert, Severity
from virtuoso.domain.bars import Bar
from virtuoso.reports.compose import Report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CHART_KINDS: tuple[tuple[str, str], ...] = (
    ("price_oi", "Price and open interest"),
    ("volume", "Volume against baseline"),
    ("liquidations", "Liquidations (USD)"),
)
WATERMARK = "SIMULATED"
SEVERITY_COLOURS = {Severity.INFO: "#7f8c8d", Severity.WATCH: "#e0a800", Severity.HIGH: "#e67e22",
                    Severity.CRITICAL: "#c0392b"}
_MS_PER_DAY = 86_400_000


@dataclass(frozen=True, slots=True)
class ChartRequest:
    symbol: str
    kind: str
    title: str
    bars: tuple[Bar, ...]
    bar_minutes: int
    alerts: tuple[Alert, ...]
    simulated: bool
    baseline_bars: int


@dataclass(frozen=True, slots=True)
class Chart:
    """One rendered chart, or why it could not be rendered (``data_uri`` None, ``error`` set)."""

    symbol: str
    kind: str
    title: str
    data_uri: str | None
    error: str | None = None
    simulated: bool = False

    @property
    def caption(self) -> str:
        return f"{self.symbol} \u2013 {self.title}{CHART_KEYS.get(self.kind, '')}"


ChartRenderer = Callable[[ChartRequest], bytes]


def chart_requests(report: Report) -> list[ChartRequest]:
    """Every chart the report shows, in page order; watermarked exactly when the report is simulated."""
    out = []
    for s in report.sections:
        baseline = max(1, report.volume_baseline_min // max(1, s.bar_minutes))
        for kind, title in CHART_KINDS:
            out.append(ChartRequest(s.symbol, kind, title, s.bars, s.bar_minutes, s.alerts, report.simulated, baseline))
    return out


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def render_charts(
    requests: Sequence[ChartRequest],
    renderer: ChartRenderer | None = None,
    on_chart: Callable[[int, int], None] | None = None,
) -> tuple[Chart, ...]:
    """Render every request; a renderer error or a non-PNG result becomes a Chart with ``error``."""
    draw = renderer if renderer is not None else MatplotlibCharts()
    charts = []
    for i, req in enumerate(requests):
        try:
            png = draw(req)
            if not isinstance(png, (bytes, bytearray)) or not bytes(png).startswith(PNG_MAGIC):
                raise ValueError("renderer returned something that is not a PNG image")
            charts.append(Chart(req.symbol, req.kind, req.title, png_data_uri(bytes(png)), None, req.simulated))
        except Exception as exc:  # one broken chart must not take the report down
            why = f"{type(exc).__name__}: {exc}"[:300]
            charts.append(Chart(req.symbol, req.kind, req.title, None, why, req.simulated))
        if on_chart is not None:
            on_chart(i + 1, len(requests))
    return tuple(charts)


def _x(ms: int) -> float:
    """Milliseconds since the epoch as matplotlib date numbers (days since 1970-01-01)."""
    return ms / _MS_PER_DAY


def rolling_median(values: Sequence[float], window: int) -> list[float]:
    """Trailing median of the previous ``window`` values (NaN until min(2, window) are behind)."""
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view

    arr = np.asarray(values, dtype=float)
    n, window = len(arr), max(1, int(window))
    out = np.full(n, np.nan)
    for i in range(2, min(window, n - 1) + 1):  # the warm-up: fewer than `window` values behind
        out[i] = float(np.median(arr[:i]))
    if n > window:
        out[window:] = np.median(sliding_window_view(arr, window)[: n - window], axis=1)
    return out.tolist()


class _Canvas:
    """A persistent figure for one chart kind: axes, locators, title and watermark are built once."""

    def __init__(self, width_in: float, height_in: float, dpi: int, twin: bool) -> None:
        import matplotlib.dates as mdates
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter, MaxNLocator

        self.fig = Figure(figsize=(width_in, height_in), dpi=dpi)
        FigureCanvasAgg(self.fig)
        self.fig.subplots_adjust(left=0.08, right=0.915, top=0.95, bottom=0.12)  # same for all: x-axes align
        self.ax = self.fig.add_subplot(1, 1, 1)
        self.ax2 = self.ax.twinx() if twin else None
        loc = mdates.AutoDateLocator(minticks=3, maxticks=6)
        self.ax.xaxis.set_major_locator(loc)
        self.ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc, show_offset=False))
        for a in (self.ax, self.ax2):
            if a is not None:
                a.yaxis.set_major_locator(MaxNLocator(4))
                # Plain numbers with k/M/B, never matplotlib's "1e7" offset or scientific notation.
                a.yaxis.set_major_formatter(FuncFormatter(axis_number))
                a.tick_params(labelsize=7)
        self.ax.grid(True, linewidth=0.3, alpha=0.5)
        self.empty = self.fig.text(0.5, 0.5, "no stored bars in the period", fontsize=9, color="#777777",
                                   ha="center", va="center", visible=False)
        self.watermark = self.fig.text(0.5, 0.5, WATERMARK, fontsize=40, color="#c0392b", alpha=0.18, rotation=12,
                                       ha="center", va="center", weight="bold", visible=False)

    def reset(self) -> None:
        for a in (self.ax, self.ax2):
            if a is None:
                continue
            for artist in [*a.lines, *a.patches, *a.collections]:
                artist.remove()
            legend = a.get_legend()
            if legend is not None:
                legend.remove()


class MatplotlibCharts:
    """The default renderer: one persistent Agg figure per chart kind, small DPI, fixed margins.

    Reusing figures and axes (only the data artists are replaced) and drawing the title as figure
    text instead of an axes title roughly halves the cost of a chart compared with building a new
    figure each time; see docs/reports.md for the figures.
    """

    def __init__(self, width_in: float = 7.6, height_in: float = 2.25, dpi: int = 100) -> None:
        self.size = (width_in, height_in)
        self.dpi = dpi
        self._canvases: dict[str, _Canvas] = {}

    def _canvas(self, kind: str) -> _Canvas:
        c = self._canvases.get(kind)
        if c is None:
            c = self._canvases[kind] = _Canvas(*self.size, self.dpi, twin=kind == "price_oi")
        return c

    def __call__(self, req: ChartRequest) -> bytes:
        import io

        draw = _DRAW.get(req.kind)
        if draw is None:
            raise ValueError(f"unknown chart kind {req.kind!r}")
        c = self._canvas(req.kind)
        c.reset()
        has_data = bool(req.bars)
        c.ax.set_visible(has_data)
        if c.ax2 is not None:
            c.ax2.set_visible(has_data)
        c.empty.set_visible(not has_data)
        if has_data:
            draw(c, req)
            _mark_alerts(c.ax, req.alerts)
            edges = _edges(req)
            c.ax.set_xlim(edges[0], edges[-1])
        c.watermark.set_visible(req.simulated)
        buf = io.BytesIO()
        c.fig.savefig(buf, format="png", dpi=self.dpi, pil_kwargs={"compress_level": 1})
        return buf.getvalue()


def axis_number(v: float, _pos: Any = None) -> str:
    """An axis tick: 87,800 / 185M / 1.25k / 0.0123 (thousands separators, no offset, no 'e')."""
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:,.3g}B"
    if a >= 1e6:
        return f"{v / 1e6:,.3g}M"
    if a >= 100_000:
        return f"{v / 1e3:,.0f}k"
    if a >= 1:
        return f"{v:,.6g}"
    return f"{v:.6f}".rstrip("0").rstrip(".") if v else "0"


def _ylim(ax: Any, lo: float, hi: float) -> None:
    """Explicit limits with a 5% margin: cheaper than relim/autoscale and ignores stale artists."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    pad = (hi - lo) * 0.05 or abs(hi) * 0.01 or 1.0
    ax.set_ylim(lo - pad, hi + pad)


def _price_oi(c: _Canvas, req: ChartRequest) -> None:
    xs = [_x(b.start_ms) for b in req.bars]
    closes = [b.close for b in req.bars]
    c.ax.plot(xs, closes, color="#1f4e79", linewidth=0.9)
    c.ax.set_ylabel("price, USDT", fontsize=7)
    fin = [v for v in closes if math.isfinite(v)]
    _ylim(c.ax, min(fin, default=math.nan), max(fin, default=math.nan))
    oi = [b.open_interest * b.close for b in req.bars]  # contracts -> USD, as the heading says
    assert c.ax2 is not None
    c.ax2.set_ylabel("OI, USD", fontsize=7)
    fin_oi = [v for v in oi if math.isfinite(v)]
    c.ax2.set_visible(bool(fin_oi))
    if fin_oi:
        c.ax2.plot(xs, oi, color="#8e44ad", linewidth=0.8, alpha=0.8)
        _ylim(c.ax2, min(fin_oi), max(fin_oi))


def _step(ax: Any, edges: Sequence[float], values: Sequence[float], color: str) -> None:
    """Filled steps as one PolyCollection (fill_between); patches per bar or stairs cost far more."""
    ax.fill_between(edges, [*values, values[-1]], step="post", color=color, linewidth=0)


def _volume(c: _Canvas, req: ChartRequest) -> None:
    vols = [b.turnover if math.isfinite(b.turnover) else 0.0 for b in req.bars]  # USD traded
    edges = _edges(req)
    c.ax.set_ylabel("volume, USD", fontsize=7)
    _step(c.ax, edges, vols, "#5d8aa8")
    base = rolling_median(vols, req.baseline_bars)
    c.ax.plot([e + req.bar_minutes / 2880 for e in edges[:-1]], base, color="#d35400", linewidth=0.9)
    _ylim(c.ax, 0.0, max([*vols, *[b for b in base if math.isfinite(b)]], default=1.0))


def _edges(req: ChartRequest) -> list[float]:
    """Bucket edges for step plots: each bar's start, then the last bar's end."""
    return [_x(b.start_ms) for b in req.bars] + [_x(req.bars[-1].end_ms)]


def _liquidations(c: _Canvas, req: ChartRequest) -> None:
    edges = _edges(req)
    longs = [b.long_liq_volume * b.close if math.isfinite(b.close) else 0.0 for b in req.bars]
    shorts = [-b.short_liq_volume * b.close if math.isfinite(b.close) else 0.0 for b in req.bars]
    c.ax.set_ylabel("USD", fontsize=7)
    _step(c.ax, edges, longs, "#c0392b")
    _step(c.ax, edges, shorts, "#27ae60")
    c.ax.axhline(0, color="#555555", linewidth=0.5)
    top = max(max(longs, default=0.0), -min(shorts, default=0.0)) or 1.0
    _ylim(c.ax, -top, top)


_DRAW: dict[str, Callable[[_Canvas, ChartRequest], None]] = {
    "price_oi": _price_oi, "volume": _volume, "liquidations": _liquidations,
}
# Colour keys for the caption the PDF prints above each chart: text in the HTML instead of a
# matplotlib title or legend (those glyphs were a third of the drawing time, and this way the
# caption is searchable text in the PDF).
CHART_KEYS = {
    "price_oi": "  (blue: price in USDT, left; purple: open interest in USD, right; dashed: alerts; times UTC)",
    "volume": "  (bars: volume in USD; orange: rolling median; dashed: alerts; times UTC)",
    "liquidations": "  (USD; red up: longs liquidated, green down: shorts; dashed: alerts; times UTC)",
}


def _mark_alerts(ax: object, alerts: Sequence[Alert]) -> None:
    by_sev: dict[Severity, list[float]] = {}
    for a in alerts:
        by_sev.setdefault(a.severity, []).append(_x(a.ts_event_ms))
    for sev, xs in by_sev.items():
        ax.vlines(xs, 0, 1, transform=ax.get_xaxis_transform(), colors=SEVERITY_COLOURS[sev],  # type: ignore[attr-defined]
                  linewidth=0.9, linestyles="dashed", alpha=0.85)
