"""Market: one symbol — candles with volume, open interest, funding and liquidations; alerts on the chart."""

from __future__ import annotations

import streamlit as st

from virtuoso.app.view import MonitorView
from virtuoso.ui import components, fmt, keys, readers, runtime, tables

RANGES_MIN = {"1 h": 60, "6 h": 360, "24 h": 1_440, "3 d": 4_320}


def _delta(x: float, suffix: str) -> str | None:
    """A metric's delta only when there is one (an empty delta would still draw a green arrow)."""
    return f"{fmt.pct(x)} {suffix}" if fmt.is_num(x) else None


def _follow_link(symbols: list[str], now: int) -> None:
    """A drill-down (or a shared link) names the symbol and the event's window in the URL: apply it
    once, choosing a range wide enough to show the window; later picks are the user's."""
    params = {k: st.query_params.get(k) for k in (keys.QUERY_SYMBOL, keys.QUERY_FROM, keys.QUERY_TO)}
    symbol = params[keys.QUERY_SYMBOL]
    if symbol not in symbols:
        return
    if st.session_state.get(keys.MARKET_LINK) == params:
        # Streamlit forgets a widget's value after a run that did not draw it (an interrupted or
        # failed run on a loaded machine): the URL still names the pick, so the pick survives.
        st.session_state.setdefault(keys.MARKET_SYMBOL, symbol)
        return
    st.session_state[keys.MARKET_LINK] = params
    st.session_state[keys.MARKET_SYMBOL] = symbol
    try:
        start, end = int(params[keys.QUERY_FROM] or 0), int(params[keys.QUERY_TO] or 0)
    except ValueError:
        start = end = 0
    st.session_state[keys.MARKET_FOCUS] = (symbol, start, end or start) if start else None
    if start:
        ago_min = (now - start) / 60_000
        st.session_state[keys.MARKET_RANGE] = next((label for label, m in RANGES_MIN.items() if m >= ago_min + 15),
                                                   list(RANGES_MIN)[-1])


def _highlight(symbol: str) -> tuple[int, int] | None:
    focus = st.session_state.get(keys.MARKET_FOCUS)
    return (int(focus[1]), int(focus[2])) if focus and focus[0] == symbol and focus[1] else None


def _live(view: MonitorView, symbol: str, minutes: int) -> None:
    with components.guarded("Market panel"):
        now = runtime.now_ms(view)
        snap = view.snapshots().get(symbol)
        bars = readers.bars_1m(view, symbol, minutes, now)
        decimals = fmt.price_decimals([b.close for b in bars[-120:]] + ([snap.last_price] if snap else []))
        c = st.columns(4)
        if snap is not None:
            c[0].metric("Last price (USDT)", fmt.price(snap.last_price, decimals), _delta(snap.change_1h_pct, "1 h"))
            c[1].metric("24 h change", fmt.pct(snap.change_24h_pct))
            c[2].metric("Open interest (USD)", fmt.usd(snap.open_interest_value), _delta(snap.oi_change_1h_pct, "1 h"))
            c[3].metric("Funding (per interval)", fmt.funding(snap.funding_rate))
            st.caption(f"Last event {fmt.utc(snap.ts_event_ms)} UTC ({fmt.age(now, snap.ts_event_ms)} ago) · "
                       f"bid {fmt.price(snap.bid_price, decimals)} / ask {fmt.price(snap.ask_price, decimals)} USDT · "
                       f"24 h turnover {fmt.usd(snap.turnover_24h)}")
            have = readers.history_span_min(view, now)
            waiting = [fmt.after_history(tables.NEEDS_LABEL[col], tables.NEEDS_HISTORY_MIN[col], have)
                       for col, v in (("chg_1h_pct", snap.change_1h_pct), ("chg_24h_pct", snap.change_24h_pct),
                                      ("oi_chg_1h_pct", snap.oi_change_1h_pct)) if not fmt.is_num(v)]
            if waiting:
                st.caption(" · ".join(waiting))
        else:
            st.info(f"No data for {fmt.md_escape(symbol)} yet.")
        alerts = readers.alerts(view, now - minutes * 60_000, now, [symbol])
        focus = _highlight(symbol)
        st.plotly_chart(readers.market_figure(symbol, bars, alerts, decimals, focus), width="stretch", key="market.chart")
        if focus:
            st.caption(f"Shaded: the event's window, {fmt.utc(focus[0])} to {fmt.utc(focus[1])[11:]} UTC")
        st.caption(f"{len(bars)} one-minute bars · {len(alerts)} alerts in range · times in UTC · "
                   "hover a marker for its evidence")


view = runtime.view(__file__)
components.header(view, "Market")
with components.guarded("Market page"):
    symbols = list(view.symbols())
    _follow_link(symbols, runtime.now_ms(view))
    left, right = st.columns([2, 3])
    symbol = left.selectbox("Symbol", symbols, key=keys.MARKET_SYMBOL)
    label = right.segmented_control("Time range", list(RANGES_MIN), default=None if keys.MARKET_RANGE in st.session_state
                                    else "6 h", key=keys.MARKET_RANGE)
    if symbol and st.query_params.get(keys.QUERY_SYMBOL) != symbol:  # the URL follows the pick, for sharing
        st.query_params[keys.QUERY_SYMBOL] = symbol
        for k in (keys.QUERY_FROM, keys.QUERY_TO):
            st.query_params.pop(k, None)
        st.session_state[keys.MARKET_LINK] = {keys.QUERY_SYMBOL: symbol, keys.QUERY_FROM: None, keys.QUERY_TO: None}
    if symbol:
        components.live(_live, view, symbol, RANGES_MIN.get(label or "6 h", 360))
