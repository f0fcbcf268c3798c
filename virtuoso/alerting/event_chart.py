"""The chart in an alert message (pure: bars in, PNG bytes out; matplotlib Agg, no pyplot).

Four panels sharing a UTC time axis over the event's window: price (1-minute closes with the
high-low range, the alert marked), volume, open interest and liquidations (longs closed up,
shorts closed down, in USD). Units on every axis, times labelled UTC, a SIMULATED watermark
exactly when the data is simulated. Small (800 x 560 px) so it renders in about a tenth of a
second and uploads in one request.

:func:`render_png` is what the chart worker process runs; it takes a :class:`ChartRequest` of
plain values so it pickles cheaply across the process boundary.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Sequence

from virtuoso.domain.bars import Bar

if TYPE_CHECKING:
    from matplotlib.figure import Figure

WIDTH_IN, HEIGHT_IN, DPI = 8.0, 5.6, 100
SEVERITY_COLOURS = {"info": "#7f8c8d", "watch": "#e0a800", "high": "#e67e22", "critical": "#c0392b"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True, slots=True)
class ChartRequest:
    """What one event's chart shows. ``bars`` are 1-minute bars (the last one may be partial)."""

    event_id: str
    symbol: str
    kind: str
    severity: str
    ts_ms: int
    direction: int
    simulated: bool
    bars: tuple[Bar, ...]


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def _finite(x: float) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def _quote(symbol: str) -> str:
    for q in ("USDT", "USDC", "USD"):
        if symbol.endswith(q):
            return q
    return "quote"


def _base(symbol: str) -> str:
    q = _quote(symbol)
    return symbol[: -len(q)] if q != "quote" and symbol.endswith(q) else "contracts"


def render_png(req: ChartRequest) -> bytes:
    """The event's chart as PNG bytes; raises ValueError when there are no bars to draw."""
    fig = build_figure(req)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def build_figure(req: ChartRequest) -> "Figure":
    """The chart as a matplotlib Figure (tests read its labels)."""
    from matplotlib.dates import DateFormatter
    from matplotlib.figure import Figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    bars: Sequence[Bar] = sorted((b for b in req.bars if _finite(b.close)), key=lambda b: b.start_ms)
    if not bars:
        raise ValueError(f"no bars for {req.symbol}")
    t = [_utc(b.start_ms + b.interval_s * 500) for b in bars]  # the middle of each bar
    quote, base = _quote(req.symbol), _base(req.symbol)
    colour = SEVERITY_COLOURS.get(req.severity, "#c0392b")
    alert_t = _utc(req.ts_ms)

    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(4, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.2, 1.2, 1.2], "hspace": 0.12})
    price, vol, oi, liq = axes
    highs = [b.high if _finite(b.high) else b.close for b in bars]
    lows = [b.low if _finite(b.low) else b.close for b in bars]
    price.fill_between(t, lows, highs, color="#aab7c4", alpha=0.45, linewidth=0, label="1-min range")
    price.plot(t, [b.close for b in bars], color="#1f4e79", linewidth=1.3, label="close")
    price.axvline(alert_t, color=colour, linewidth=1.6, linestyle="--")
    ref = min(bars, key=lambda b: abs(b.start_ms - req.ts_ms)).close
    marker = "^" if req.direction > 0 else "v" if req.direction < 0 else "o"
    price.plot([alert_t], [ref], marker=marker, color=colour, markersize=10, linestyle="none",
               label=f"alert ({req.severity})")
    price.set_ylabel(f"price ({quote})")
    price.legend(loc="upper left", fontsize=7, frameon=True, framealpha=0.7)
    price.set_title(f"{req.symbol} · {req.kind.replace('_', ' ')} · {req.severity} · "
                    f"{alert_t.strftime('%Y-%m-%d %H:%M:%S')} UTC", fontsize=9)

    # vlines, not bar(): one collection instead of a patch per bar (several times faster to draw)
    bar_lw = max(1.0, min(6.0, 0.8 * 72 * WIDTH_IN * 0.87 / max(1, len(bars))))
    vol.vlines(t, 0, [b.volume for b in bars], color="#5d6d7e", linewidth=bar_lw)
    vol.set_ylabel(f"volume\n({base})", fontsize=8)
    ois = [b.open_interest for b in bars]
    if any(_finite(x) for x in ois):
        oi.plot(t, [x if _finite(x) else math.nan for x in ois], color="#8e44ad", linewidth=1.2)
    else:
        oi.text(0.5, 0.5, "no open interest data", transform=oi.transAxes, ha="center", va="center", fontsize=8)
    oi.set_ylabel(f"open interest\n({base})", fontsize=8)
    longs = [b.long_liq_volume * b.close for b in bars]
    shorts = [-b.short_liq_volume * b.close for b in bars]
    liq.vlines(t, 0, longs, color="#c0392b", linewidth=bar_lw, label="longs liquidated")
    liq.vlines(t, 0, shorts, color="#27ae60", linewidth=bar_lw, label="shorts liquidated")
    liq.axhline(0, color="#888888", linewidth=0.6)
    liq.set_ylabel(f"liquidations\n({quote})", fontsize=8)
    liq.legend(loc="upper left", fontsize=6, frameon=False)
    liq.set_xlabel("time (UTC)", fontsize=8)
    liq.xaxis.set_major_formatter(DateFormatter("%H:%M", tz=timezone.utc))
    for ax in axes:
        ax.axvline(alert_t, color=colour, linewidth=0.9, linestyle="--", alpha=0.7)
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.25)
    if req.simulated:
        fig.text(0.5, 0.5, "SIMULATED", fontsize=64, color="#c0392b", alpha=0.15, ha="center", va="center",
                 rotation=25, fontweight="bold")
    fig.subplots_adjust(left=0.11, right=0.98, top=0.94, bottom=0.08)
    return fig


def warm() -> None:
    """Import the drawing libraries once (a worker process calls this at start)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    from matplotlib.figure import Figure  # noqa: F401
