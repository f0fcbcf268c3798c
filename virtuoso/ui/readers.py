"""Cached readers: what pages ask the MonitorView for, shared across tabs for a short while.

Every browser tab reruns its live panels each second; these caches make N tabs cost about one.
Results are immutable (frozen bars and alerts), so they are kept with ``st.cache_resource`` (no
copy per hit). The view itself is not hashed: ``key`` (its identity) is part of every cache key.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import streamlit as st

from virtuoso.app.view import MonitorView
from virtuoso.config import DetectionSettings
from virtuoso.domain.alerts import Alert
from virtuoso.domain.bars import Bar
from virtuoso.ui import figures, tuning

SPARK_MINUTES = 60


def key(view: MonitorView) -> str:
    return f"{type(view).__name__}:{id(view)}"


@st.cache_resource(ttl=0.5, max_entries=32, show_spinner=False)
def _overview_inputs(_view: MonitorView, view_key: str, now_bucket: int) -> tuple[Any, ...]:
    snaps = _view.snapshots()
    scores = _view.composite_scores()
    symbols = _view.symbols()
    spark: dict[str, list[float]] = {}
    for sym in symbols:
        closes = [b.close for b in _view.bars_1m(sym, SPARK_MINUTES)]
        snap = snaps.get(sym)
        if snap is not None and math.isfinite(snap.last_price) and snap.last_price > 0:
            closes.append(snap.last_price)
        spark[sym] = closes[-SPARK_MINUTES - 1:]
    return snaps, scores, symbols, spark


def overview_inputs(view: MonitorView, now_ms: int) -> tuple[Any, ...]:
    """Snapshots, composite scores, symbols and sparkline closes (last hour of 1-minute bars + last price)."""
    return _overview_inputs(view, key(view), now_ms // 500)


@st.cache_resource(ttl=2.0, max_entries=8, show_spinner=False)
def _health(_view: MonitorView, view_key: str, bucket: int) -> dict[str, Any]:
    return dict(_view.health())


def health(view: MonitorView, now_ms: int) -> dict[str, Any]:
    """The engine's health, shared by every tab for two seconds (the banner reads it on every page)."""
    return _health(view, key(view), now_ms // 2_000)


@st.cache_resource(ttl=2.0, max_entries=8, show_spinner=False)
def _acknowledged(_view: MonitorView, view_key: str, bucket: int) -> frozenset[str]:
    return frozenset(_view.acknowledged())


def acknowledged(view: MonitorView, now_ms: int) -> frozenset[str]:
    """Acknowledged event ids for the tab title's count, shared by every tab for two seconds
    (the Alerts page reads the view itself, so a click shows at once)."""
    return _acknowledged(view, key(view), now_ms // 2_000)


@st.cache_resource(ttl=60.0, max_entries=8, show_spinner=False)
def _history_span_min(_view: MonitorView, view_key: str, bucket: int) -> float:
    symbols = _view.symbols()[:1]
    if not symbols:
        return 0.0
    bars = _view.bars_1m(symbols[0], 24 * 60)
    return 0.0 if not bars else (bars[-1].end_ms - bars[0].start_ms) / 60_000


def history_span_min(view: MonitorView, now_ms: int) -> float:
    """Minutes of 1-minute history held (up to a day; the first symbol's, read once a minute):
    how long until figures that need an hour or a day of history appear."""
    return _history_span_min(view, key(view), now_ms // 60_000)


@st.cache_resource(ttl=2.0, max_entries=64, show_spinner=False)
def _alerts(_view: MonitorView, view_key: str, since_ms: int, symbols: tuple[str, ...] | None, bucket: int) -> list[Alert]:
    return _view.alerts(since_ms, list(symbols) if symbols is not None else None)


def alerts(view: MonitorView, since_ms: int, now_ms: int, symbols: Sequence[str] | None = None) -> list[Alert]:
    """Alerts since ``since_ms`` (rounded down to the minute so neighbouring calls share the cache)."""
    since = (since_ms // 60_000) * 60_000
    return _alerts(view, key(view), since, tuple(symbols) if symbols is not None else None, now_ms // 1000)


@st.cache_resource(ttl=5.0, max_entries=64, show_spinner=False)
def _bars(_view: MonitorView, view_key: str, symbol: str, minutes: int, bucket: int) -> list[Bar]:
    return _view.bars_1m(symbol, minutes)


def bars_1m(view: MonitorView, symbol: str, minutes: int, now_ms: int) -> list[Bar]:
    """Closed 1-minute bars for a chart (refreshed every few seconds; a new bar closes once a minute)."""
    return _bars(view, key(view), symbol, minutes, now_ms // 5_000)


@st.cache_resource(ttl=120, max_entries=8, show_spinner=False)
def _history(_view: MonitorView, view_key: str, minutes: int, bucket: int) -> dict[str, list[Bar]]:
    return {sym: _view.bars_1m(sym, minutes) for sym in _view.symbols()}


def history(view: MonitorView, minutes: int, now_ms: int) -> dict[str, list[Bar]]:
    """Recorded 1-minute history of every symbol for the backtest preview (refreshed each minute)."""
    return _history(view, key(view), minutes, now_ms // 60_000)


@st.cache_resource(ttl=300, max_entries=64, show_spinner=False)
def _backtest(_history_bars: dict[str, list[Bar]], _bt: tuning.Backtest, history_key: str,
              thresholds_json: str) -> tuple[list[Any], dict[str, dict[str, int]]]:
    thresholds = DetectionSettings.model_validate_json(thresholds_json)
    flags = _bt.flags(_history_bars, thresholds)
    counts = {sym: {str(getattr(k, "value", k)): int(n) for k, n in by_kind.items()}
              for sym, by_kind in _bt.counts(flags).items()}
    return flags, counts


def backtest(view: MonitorView, bt: tuning.Backtest, bars: dict[str, list[Bar]], minutes: int,
             now_ms: int, thresholds: DetectionSettings) -> tuple[list[Any], dict[str, dict[str, int]]]:
    """Flags and counts a threshold set would raise on the history; repeated slider positions are free."""
    history_key = f"{key(view)}:{minutes}:{now_ms // 60_000}:{sum(len(b) for b in bars.values())}"
    return _backtest(bars, bt, history_key, thresholds.model_dump_json())


@st.cache_resource(ttl=120, max_entries=32, show_spinner=False)
def _market_figure(_bars: list[Bar], _alerts: list[Alert], symbol: str, signature: tuple[Any, ...],
                   decimals: int | None, highlight: tuple[int, int] | None) -> Any:
    return figures.market_figure(symbol, _bars, _alerts, decimals=decimals, highlight=highlight)


def market_figure(symbol: str, bars: list[Bar], alerts: list[Alert], decimals: int | None = None,
                  highlight: tuple[int, int] | None = None) -> Any:
    """The market chart, rebuilt only when a bar closes or an alert changes (building costs ~70 ms)."""
    signature = (len(bars), bars[-1].start_ms if bars else 0, bars[0].start_ms if bars else 0,
                 tuple((a.id, a.severity.value) for a in alerts))
    return _market_figure(bars, alerts, symbol, signature, decimals, highlight)
