"""Virtuoso dashboard: the entry page (Overview) and the UI's composition root.

Run with ``streamlit run dashboard.py`` (``make run``). One engine runs per server process,
however many tabs are open: :func:`engine` is an ``st.cache_resource`` getter. Tests replace it
by putting a MonitorView in ``st.session_state[virtuoso.ui.keys.VIEW]`` before the first run.
"""

from __future__ import annotations

import atexit

import streamlit as st

from virtuoso.app.view import MonitorView
from virtuoso.config import SettingsError, load_settings
from virtuoso.ui import auth, components, fmt, keys, readers, runtime, tables

st.set_page_config(page_title="Virtuoso", page_icon=str(components.APP_ICON), layout="wide")


def _stop_engine(engine: object) -> None:
    stop = getattr(engine, "stop", None)
    if stop is not None:
        stop()


@st.cache_resource(show_spinner="Starting the engine…", on_release=_stop_engine)
def engine() -> MonitorView:
    """Start the one engine of this server process (settings from the environment and .env)."""
    from virtuoso.app.engine import Engine
    from virtuoso.app.logging_setup import add_terminal_handler

    add_terminal_handler()
    eng = Engine(load_settings())
    eng.start()
    atexit.register(eng.stop)
    return eng


# ---------------------------------------------------------------------------------- Overview

OVERVIEW_COLUMNS = {
    "symbol": st.column_config.TextColumn("Symbol", pinned=True),
    "price": st.column_config.NumberColumn("Price (USDT)", help="Last traded price, at the instrument's tick"),
    "chg_1h_pct": st.column_config.NumberColumn("1 h %", help="Price change over the last hour"),
    "chg_24h_pct": st.column_config.NumberColumn("24 h %", help="Price change over the last 24 hours"),
    "oi_usd": st.column_config.NumberColumn("Open interest", help="Open interest in USD"),
    "oi_chg_1h_pct": st.column_config.NumberColumn("OI 1 h %", help="Open interest change over the last hour"),
    "funding_pct": st.column_config.NumberColumn("Funding %", help="Funding rate per interval"),
    "vol_vs_base": st.column_config.NumberColumn("Vol / base",
                                                 help="Last hour's volume over the median hourly volume"),
    "score": st.column_config.ProgressColumn(
        "Score", min_value=0, max_value=100, format="%.0f",
        help="Manipulation score 0-100: now, or the highest of the flags raised in the last hour"),
    "flags": st.column_config.TextColumn("Active flags (1 h)"),
    "worst": None,
    "trend": st.column_config.LineChartColumn("Last hour", width="medium", color="auto",
                                              help="1-minute closes: green when up over the hour, red when down"),
}


def _overview_live(view: MonitorView) -> None:
    with components.guarded("Watchlist"):
        now = runtime.now_ms(view)
        snaps, scores, symbols, spark = readers.overview_inputs(view, now)
        recent = readers.alerts(view, now - tables.ACTIVE_WINDOW_MS, now)
        df = tables.overview_frame(snaps, scores, recent, spark, now, symbols)
        summary = tables.market_summary(df)
        newest = max((s.ts_event_ms for s in snaps.values()), default=0)
        c = st.columns(6)
        c[0].metric("Symbols", summary["symbols"])
        c[1].metric("Up / down (1 h)", f"{summary['up_1h']} / {summary['down_1h']}")
        c[2].metric("Median 1 h change", fmt.pct(summary["median_chg_1h_pct"]))
        c[3].metric("Flagged symbols (1 h)", summary["flagged"])
        c[4].metric("Highest score", "–" if not fmt.is_num(summary["max_score"]) else f"{summary['max_score']:.0f}",
                    summary["max_score_symbol"] or None, delta_color="off", delta_arrow="off")
        c[5].metric("Newest tick (UTC)", fmt.utc(newest)[11:] if newest else "–",
                    f"{fmt.age(now, newest)} ago" if newest else None, delta_color="off", delta_arrow="off")
        if df.empty:
            st.info("Waiting for the first market data…")
            return
        waiting = tables.missing_history(df, readers.history_span_min(view, now))
        if waiting:
            st.caption(" · ".join(waiting))
        st.dataframe(tables.overview_styler(df), column_config=OVERVIEW_COLUMNS, hide_index=True, width="stretch",
                     height=min(38 + 35 * len(df), 720), key=keys.OVERVIEW_TABLE, placeholder="–", selection_mode="single-row",
                     on_select=components.picker(keys.OVERVIEW_TABLE, [(s,) for s in df["symbol"]]))
    components.follow_pick(keys.OVERVIEW_TABLE)


def overview() -> None:
    """Overview: market-wide summary, then the watchlist worst first (sortable by any column)."""
    view = runtime.view()
    components.header(view, "Overview", "Watchlist, worst first: active flags, then manipulation score, then the 1 h move. "
                      "Click a row to open its chart; click a column header to sort.")
    components.live(_overview_live, view)


# ---------------------------------------------------------------------------------- routing

PAGES = [
    ("pages/scanner.py", "Scanner", components.NAV_ICONS["scanner"], "scanner"),
    ("pages/market.py", "Market", components.NAV_ICONS["market"], "market"),
    ("pages/alerts.py", "Alerts", components.NAV_ICONS["alerts"], "alerts"),
    ("pages/tuning.py", "Detection tuning", components.NAV_ICONS["tuning"], "tuning"),
    ("pages/reports.py", "Reports", components.NAV_ICONS["reports"], "reports"),
    ("pages/health.py", "Health", components.NAV_ICONS["health"], "health"),
]


def main() -> None:
    try:
        view = runtime.install_view(engine)
    except SettingsError as exc:
        st.error(f"Settings: {fmt.one_line(exc)}")
        st.stop()
    except Exception as exc:  # the engine could not start: say why in one line
        st.error(f"The engine could not start: {fmt.one_line(f'{type(exc).__name__}: {exc}')}")
        st.stop()
    password = view.settings.dashboard.password
    if not auth.signed_in(password):
        st.navigation([st.Page(lambda: auth.login_form(password), title="Sign in", url_path="login")],
                      position="hidden").run()
        return
    pages = [st.Page(overview, title="Overview", icon=components.NAV_ICONS["overview"], default=True)]
    pages += [st.Page(path, title=title, icon=icon, url_path=url) for path, title, icon, url in PAGES]
    nav = st.navigation(pages)
    runtime.follow_deep_link()
    nav.run()


main()
