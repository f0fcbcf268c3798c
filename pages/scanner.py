"""Scanner: every followed symbol in one table, worst first; search, filter, sort, open one in Market."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from virtuoso.app.view import MonitorView
from virtuoso.ui import components, fmt, keys, runtime

MARKET_PAGE = "pages/market.py"
# Column -> (header, what sorting by it means); "worst first" is the view's own order.
SORTS = {
    "worst first": "events open, then score, then the largest move",
    "score": "event score, 0-100",
    "oi_chg_5m_pct": "open-interest change, 5 min (size of the move)",
    "oi_chg_1h_pct": "open-interest change, 1 h (size of the move)",
    "chg_5m_pct": "price change, 5 min (size of the move)",
    "chg_1h_pct": "price change, 1 h (size of the move)",
    "funding_pct": "funding, furthest from zero",
    "vol_vs_base": "volume against the coin's usual",
    "liq_15m_usd": "liquidations, last 15 min",
    "turnover_24h_usd": "24 h turnover",
}
BY_SIZE = {"oi_chg_5m_pct", "oi_chg_1h_pct", "chg_5m_pct", "chg_1h_pct", "funding_pct"}  # sorted by |value|
HEADERS = {
    "symbol": "Symbol", "price": "Price", "chg_5m_pct": "Price 5 m %", "chg_1h_pct": "Price 1 h %",
    "oi_chg_5m_pct": "OI 5 m %", "oi_chg_1h_pct": "OI 1 h %", "funding_pct": "Funding %",
    "vol_vs_base": "Volume vs usual (x)", "liq_15m_usd": "Liquidations 15 m (USD)",
    "turnover_24h_usd": "Turnover 24 h (USD)", "score": "Score", "open_events": "Open events", "worst_open": "Worst open",
}


def frame(rows: list, search: str, only_open: bool, min_score: float, min_oi_move: float, sort: str,
          ascending: bool) -> pd.DataFrame:
    """The rows as a table after search, filters and sort (worst first keeps the view's order)."""
    df = pd.DataFrame([r.to_dict() for r in rows], columns=list(HEADERS))
    if search:
        df = df[df["symbol"].str.contains(search.strip().upper(), regex=False)]
    if only_open:
        df = df[df["open_events"] > 0]
    if min_score > 0:
        df = df[df["score"] >= min_score]
    if min_oi_move > 0:
        df = df[(df["oi_chg_5m_pct"].abs() >= min_oi_move) | (df["oi_chg_1h_pct"].abs() >= min_oi_move)]
    if sort in SORTS and sort != "worst first":
        key = df[sort].abs() if sort in BY_SIZE else df[sort]
        df = df.assign(_k=key).sort_values("_k", ascending=ascending, na_position="last", kind="stable").drop(columns="_k")
    elif ascending:
        df = df.iloc[::-1]
    return df.reset_index(drop=True)


def _open(symbol: str) -> None:
    st.session_state[keys.MARKET_SYMBOL] = symbol
    st.switch_page(MARKET_PAGE)


# printf formats of the numeric columns; a column with a missing figure is shown as text instead,
# because the grid draws a missing number as "None" whatever its format says.
NUMBER_FORMATS = {
    "Price": "%.6g", **{HEADERS[c]: "%+.2f" for c in ("chg_5m_pct", "chg_1h_pct", "oi_chg_5m_pct", "oi_chg_1h_pct")},
    "Funding %": "%+.4f", "Volume vs usual (x)": "%.1f", "Liquidations 15 m (USD)": "compact",
    "Turnover 24 h (USD)": "compact",
}
NEEDS_HISTORY = "needs more history"


def _missing_as_words(shown: pd.DataFrame) -> pd.DataFrame:
    out = shown.copy()
    for col, f in NUMBER_FORMATS.items():
        if col in out and out[col].isna().any():
            out[col] = [NEEDS_HISTORY if x != x else (fmt.compact(x) if f == "compact" else f % x) for x in out[col]]
    return out


def _columns(shown: pd.DataFrame) -> dict:
    numeric = {c: st.column_config.NumberColumn(format=f) for c, f in NUMBER_FORMATS.items()
               if c in shown and shown[c].dtype.kind == "f"}
    return {**numeric, "Score": st.column_config.ProgressColumn(min_value=0, max_value=100, format="%.0f")}


def _table(view: MonitorView, search: str, only_open: bool, min_score: float, min_oi_move: float, sort: str,
           ascending: bool) -> None:
    with components.guarded("Scanner table"):
        rows = view.scanner_rows()
        df = frame(rows, search, only_open, min_score, min_oi_move, sort, ascending)
        flagged = sum(1 for r in rows if r.open_events)
        st.caption(f"{len(df)} of {len(rows)} symbols shown · {flagged} with an open event · "
                   f"updated {fmt.utc(runtime.now_ms(view))} UTC · select a row to open its Market page")
        shown = _missing_as_words(df.rename(columns=HEADERS))
        event = st.dataframe(
            shown, hide_index=True, width="stretch", height=min(36 + 35 * max(len(df), 1), 700),
            on_select="rerun", selection_mode="single-row", key=keys.SCANNER_TABLE,
            column_config=_columns(shown),
        )
        picked = list(getattr(getattr(event, "selection", None), "rows", None) or [])
        if picked and picked[0] < len(df):
            _open(str(df.loc[picked[0], "symbol"]))


view = runtime.view(__file__)
components.header(view, "Scanner", "Every followed symbol, worst first. Changes are over closed 1-minute bars; "
                  "funding is per funding interval. Refreshes every " f"{runtime.refresh_s(view):g} s.")
with components.guarded("Scanner page"):
    c = st.columns([2, 2, 1, 1, 1, 1])
    search = c[0].text_input("Search symbol", key=keys.SCANNER_SEARCH, placeholder="e.g. PEPE")
    sort = c[1].selectbox("Sort by", list(SORTS), key=keys.SCANNER_SORT, format_func=lambda k: SORTS[k])
    ascending = c[2].toggle("Smallest first", key=keys.SCANNER_ASCENDING)
    only_open = c[3].toggle("Open events only", key=keys.SCANNER_ONLY_OPEN)
    min_score = c[4].number_input("Min score", 0.0, 100.0, 0.0, 5.0, key=keys.SCANNER_MIN_SCORE)
    min_oi = c[5].number_input("Min |OI change| %", 0.0, 100.0, 0.0, 0.5, key=keys.SCANNER_MIN_OI_MOVE)
    components.live(_table, view, search, only_open, min_score, min_oi, sort, ascending)
    left, right = st.columns([3, 1])
    symbols = list(view.symbols())
    choice = left.selectbox("Open a symbol's Market page", symbols, key=keys.SCANNER_OPEN_SYMBOL, index=None,
                            placeholder="type to search")
    if right.button("Open in Market", key=keys.SCANNER_OPEN_BUTTON, disabled=choice is None) and choice:
        _open(choice)
