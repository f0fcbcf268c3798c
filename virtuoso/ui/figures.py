"""Pure plotly figure builders: bars, alerts and flags in, ``go.Figure`` out. No Streamlit, no I/O.

Times are drawn in UTC. ``uirevision`` is set per symbol so a live refresh keeps the user's zoom.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from virtuoso.domain.alerts import Alert
from virtuoso.domain.bars import Bar
from virtuoso.ui import fmt
from virtuoso.ui.tables import evidence_text

SEVERITY_COLORS = {"info": "#6c757d", "watch": "#f0ad4e", "high": "#e8590c", "critical": "#c92a2a"}
KIND_SYMBOLS = {
    "oi_surge": "triangle-up", "volume_spike": "diamond", "price_move": "circle",
    "oi_price_divergence": "square", "pump_and_dump": "star", "liquidation_cascade": "x",
}
KIND_COLORS = {
    "oi_surge": "#1c7ed6", "volume_spike": "#7048e8", "price_move": "#f59f00",
    "oi_price_divergence": "#0ca678", "pump_and_dump": "#e03131", "liquidation_cascade": "#495057",
}
_LAYOUT = dict(template="plotly_white", margin=dict(l=10, r=10, t=40, b=10), hovermode="x unified",
               legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0))


def bars_frame(bars: Sequence[Bar]) -> pd.DataFrame:
    """Bars as columns (time as UTC datetimes), the shape every chart starts from."""
    df = pd.DataFrame({
        "t": pd.to_datetime([b.start_ms for b in bars], unit="ms", utc=True),
        "open": [b.open for b in bars], "high": [b.high for b in bars],
        "low": [b.low for b in bars], "close": [b.close for b in bars],
        "buy_volume": [b.buy_volume for b in bars], "sell_volume": [b.sell_volume for b in bars],
        "volume": [b.volume for b in bars],
        "buy_usd": [b.buy_volume * b.close for b in bars], "sell_usd": [b.sell_volume * b.close for b in bars],
        "open_interest": [b.open_interest for b in bars],
        "oi_usd": [b.open_interest * b.close for b in bars],
        "funding_pct": [b.funding_rate * 100 for b in bars],
        "long_liq_usd": [b.long_liq_volume * b.close for b in bars],
        "short_liq_usd": [b.short_liq_volume * b.close for b in bars],
    })
    return df


def empty_figure(message: str, height: int = 300) -> go.Figure:
    """A blank chart with a centred note, for 'no data yet'."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5, font=dict(size=14))
    fig.update_layout(**_LAYOUT, height=height, xaxis=dict(visible=False), yaxis=dict(visible=False))
    return fig


def _price_at(df: pd.DataFrame, ts_ms: int) -> float:
    if df.empty:
        return math.nan
    t = pd.Timestamp(ts_ms, unit="ms", tz="UTC")
    idx = df["t"].searchsorted(t, side="right") - 1
    idx = min(max(int(idx), 0), len(df) - 1)
    return float(df["high"].iloc[idx])


def _kind_label(kind: str) -> str:
    return kind.replace("_", " ").replace("oi ", "OI ")


def _marker_heights(df: pd.DataFrame, alerts: Sequence[Alert]) -> list[float]:
    """Each marker above its bar's high; events on the same bar stack upwards instead of overlapping."""
    span = float(df["high"].max() - df["low"].min()) or float(df["high"].max()) * 0.01 or 1.0
    seen: dict[int, int] = {}
    out = []
    for a in alerts:
        slot = int(a.ts_event_ms // 60_000)
        k = seen.get(slot, 0)
        seen[slot] = k + 1
        out.append(_price_at(df, a.ts_event_ms) + span * (0.03 + 0.05 * k))
    return out


def market_figure(symbol: str, bars: Sequence[Bar], alerts: Sequence[Alert], height: int = 760,
                  decimals: int | None = None, highlight: tuple[int, int] | None = None) -> go.Figure:
    """Candles with one marker per event (shape and colour = kind, outline = severity, hover = its own
    evidence), volume and open interest in USD, funding and liquidations; every axis with its unit."""
    if not bars:
        return empty_figure(f"No 1-minute bars for {symbol} yet")
    df = bars_frame(bars)
    d = fmt.price_decimals(df["close"].tolist()) if decimals is None else decimals
    fig = make_subplots(rows=5, cols=1, shared_xaxes=True, vertical_spacing=0.03,
                        row_heights=[0.44, 0.14, 0.14, 0.12, 0.16],
                        subplot_titles=("Price (USDT)", "Volume, buy / sell (USD)", "Open interest (USD)",
                                        "Funding (% per interval)", "Liquidations (USD): longs up, shorts down"))
    fig.add_trace(go.Candlestick(x=df["t"], open=df["open"], high=df["high"], low=df["low"], close=df["close"],
                                 name="price", showlegend=False, increasing_line_color="#2b8a3e",
                                 decreasing_line_color="#c92a2a"), row=1, col=1)
    shown = sorted((a for a in alerts if bars[0].start_ms <= a.ts_event_ms <= bars[-1].end_ms),
                   key=lambda a: (a.ts_event_ms, a.id))
    heights = dict(zip((a.id for a in shown), _marker_heights(df, shown)))
    for kind in sorted({a.kind.value for a in shown}):
        group = [a for a in shown if a.kind.value == kind]
        fig.add_trace(go.Scatter(
            x=pd.to_datetime([a.ts_event_ms for a in group], unit="ms", utc=True),
            y=[heights[a.id] for a in group],
            mode="markers", name=f"{_kind_label(kind)} ({len(group)})", legendgroup=kind,
            marker=dict(size=13, color=KIND_COLORS.get(kind, "#868e96"), symbol=KIND_SYMBOLS.get(kind, "circle"),
                        line=dict(width=2.5, color=[SEVERITY_COLORS.get(a.severity.value, "#ffffff") for a in group])),
            customdata=[[_kind_label(kind), a.severity.value, f"{a.score:.0f}", fmt.utc(a.ts_event_ms),
                         evidence_text(a.evidence, "<br>", a)] for a in group],
            hovertemplate="<b>%{customdata[0]}</b> · %{customdata[1]} · score %{customdata[2]}<br>"
                          "%{customdata[3]} UTC<br>%{customdata[4]}<extra></extra>",
        ), row=1, col=1)
    fig.add_trace(go.Bar(x=df["t"], y=df["buy_usd"], name="buy", marker_color="#2f9e44", showlegend=False,
                         hovertemplate="buy %{y:,.0f} USD<extra></extra>"), row=2, col=1)
    fig.add_trace(go.Bar(x=df["t"], y=df["sell_usd"], name="sell", marker_color="#e03131", showlegend=False,
                         hovertemplate="sell %{y:,.0f} USD<extra></extra>"), row=2, col=1)
    fig.add_trace(go.Scatter(x=df["t"], y=df["oi_usd"], name="OI", line=dict(color="#1c7ed6"), showlegend=False,
                             hovertemplate="OI %{y:,.0f} USD<extra></extra>"), row=3, col=1)
    fig.add_trace(go.Scatter(x=df["t"], y=df["funding_pct"], name="funding", line=dict(color="#7048e8", shape="hv"),
                             showlegend=False, hovertemplate="funding %{y:+.4f} %<extra></extra>"), row=4, col=1)
    fig.add_trace(go.Bar(x=df["t"], y=df["long_liq_usd"], name="long liq", marker_color="#c92a2a", showlegend=False,
                         hovertemplate="longs liquidated %{y:,.0f} USD<extra></extra>"), row=5, col=1)
    fig.add_trace(go.Bar(x=df["t"], y=-df["short_liq_usd"], name="short liq", marker_color="#2b8a3e", showlegend=False,
                         customdata=df["short_liq_usd"],
                         hovertemplate="shorts liquidated %{customdata:,.0f} USD<extra></extra>"), row=5, col=1)
    fig.update_layout(**_LAYOUT, height=height, barmode="relative", uirevision=symbol)
    fig.update_layout(xaxis_rangeslider_visible=False, hovermode="closest",
                      legend_title_text="Events (outline = severity)")
    fig.update_yaxes(tickformat=f",.{d}f", hoverformat=f",.{d}f", row=1, col=1)
    for row in (2, 3, 5):
        fig.update_yaxes(exponentformat="B", hoverformat=",.0f", row=row, col=1)  # 4M, 2.37B (not SI's 2.37G)
    fig.update_yaxes(tickformat="+.4f", row=4, col=1)
    fig.update_xaxes(hoverformat="%Y-%m-%d %H:%M UTC")
    fig.update_xaxes(title_text="Time (UTC)", row=5, col=1)
    fig.update_annotations(font_size=12)
    if highlight is not None:  # the event a drill-down came from: its window, shaded across every panel
        start, end = highlight
        x0 = pd.Timestamp(int(start) // 60_000 * 60_000, unit="ms", tz="UTC")
        x1 = pd.Timestamp(max(int(end), int(start)) // 60_000 * 60_000 + 60_000, unit="ms", tz="UTC")
        for row in range(1, 6):
            fig.add_vrect(x0=x0, x1=x1, fillcolor="#fab005", opacity=0.18, line_width=0, row=row, col=1)
    return fig


def backtest_figure(symbol: str, bars: Sequence[Bar], flags: Sequence[Any], height: int = 380) -> go.Figure:
    """Close price with the flags a threshold set would raise, one marker style per kind."""
    if not bars:
        return empty_figure(f"No recorded history for {symbol} yet", height)
    df = bars_frame(bars)
    d = fmt.price_decimals(df["close"].tolist())
    fig = go.Figure(go.Scatter(x=df["t"], y=df["close"], name="close", line=dict(color="#343a40", width=1.5),
                               hovertemplate="%{x|%H:%M} UTC · %{y:,." + str(d) + "f} USDT<extra></extra>"))
    mine = [f for f in flags if f.symbol == symbol]
    for kind in sorted({str(getattr(f.kind, "value", f.kind)) for f in mine}):
        group = [f for f in mine if str(getattr(f.kind, "value", f.kind)) == kind]
        fig.add_trace(go.Scatter(
            x=pd.to_datetime([f.ts_ms for f in group], unit="ms", utc=True),
            y=[_price_at(df, f.ts_ms) for f in group],
            mode="markers", name=f"{_kind_label(kind)} ({len(group)})",
            marker=dict(size=11, symbol=KIND_SYMBOLS.get(kind, "circle"), color=KIND_COLORS.get(kind, "#868e96"),
                        line=dict(width=1, color="white")),
            customdata=[[str(getattr(f.severity, "value", f.severity)), f"{float(f.score):.0f}"] for f in group],
            hovertemplate=_kind_label(kind) + " · %{customdata[0]} · score %{customdata[1]}<extra></extra>",
        ))
    fig.update_layout(**_LAYOUT, height=height, title=dict(text=f"{symbol}: flags on recorded 1-minute history", x=0, font_size=14))
    fig.update_layout(hovermode="closest", xaxis_title="Time (UTC)", yaxis_title="Price (USDT)")
    fig.update_yaxes(tickformat=f",.{d}f")
    return fig
