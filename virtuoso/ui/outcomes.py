"""The Alerts page's **Alert outcomes** section: what the market did after each event, and the
hit rate per kind and severity, read through ``MonitorView.alert_outcomes``.

Layout only: the numbers come from the pure builders in :mod:`virtuoso.alerting.outcomes` (the
same ones the PDF and Discord's Trading Outlook use). A view without outcomes (an older twin)
gets one line saying so, never an error.
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd
import streamlit as st

from virtuoso.alerting.outcomes import Outcome, outcome_table, outlook_note
from virtuoso.app.view import MonitorView
from virtuoso.ui import components, fmt

DASH = "\u2013"
EVENTS_MAX = 500


def _pct(v: float | None) -> str:
    return DASH if v is None else f"{v:+.2f} %"


def _yes(v: bool | None) -> str:
    return DASH if v is None else ("yes" if v else "no")


@st.cache_resource(ttl=5.0, max_entries=16, show_spinner=False)
def _read(_view: MonitorView, view_key: str, since_ms: int, symbols: tuple[str, ...] | None, bucket: int) -> list[Outcome]:
    return list(_view.alert_outcomes(since_ms, list(symbols) if symbols is not None else None))  # type: ignore[attr-defined]


def table_frame(outcomes: Sequence[Outcome]) -> pd.DataFrame:
    """One row per kind and severity: counts, hit rate with its counts, reversals, median moves."""
    rows = [{
        "kind": r.kind.replace("_", " "), "severity": r.severity, "events": r.events, "measured at +1 h": r.measured_1h,
        "hit rate": DASH if r.hit_rate is None else f"{r.hit_rate:.0%} ({r.hits} of {r.measured_1h})",
        "reversed within 1 h": f"{r.reversed_1h} of {r.directional}" if r.directional else DASH,
        "median +1 h": _pct(r.median_ret_1h_pct), "median move for": _pct(r.median_move_for_1h_pct),
        "median move against": _pct(r.median_move_against_1h_pct),
    } for r in outcome_table(outcomes)]
    return pd.DataFrame(rows)


def events_frame(outcomes: Sequence[Outcome]) -> pd.DataFrame:
    """One row per event, latest first."""
    rows = [{
        "opened (UTC)": fmt.utc(o.ts_ms), "symbol": o.symbol, "kind": o.kind.replace("_", " "), "severity": o.severity,
        "direction": {1: "up", -1: "down"}.get(o.direction, DASH), "measured": o.stage,
        "+5 min": _pct(o.ret_5m_pct), "+1 h": _pct(o.ret_1h_pct), "+4 h": _pct(o.ret_4h_pct),
        "for (1 h)": _pct(o.move_for_1h_pct), "against (1 h)": _pct(o.move_against_1h_pct), "hit": _yes(o.hit),
        "OI reverted": _yes(o.oi_reverted_1h), "funding reverted": _yes(o.funding_reverted_1h), "id": o.event_id,
    } for o in sorted(outcomes, key=lambda o: o.ts_ms, reverse=True)[:EVENTS_MAX]]
    return pd.DataFrame(rows)


def outcomes_section(view: MonitorView, since_ms: int, now_ms: int, symbols: Sequence[str] | None = None) -> None:
    """Render the section (call it from the Alerts page inside its own ``guarded`` block)."""
    st.subheader("Alert outcomes")
    if not hasattr(view, "alert_outcomes"):
        st.info("Outcomes are not available from this data source.")
        return
    with components.guarded("Alert outcomes"):
        key = f"{type(view).__name__}:{id(view)}"
        found = _read(view, key, (since_ms // 60_000) * 60_000, tuple(symbols) if symbols else None, now_ms // 5_000)
        multiple = float(getattr(getattr(view.settings, "outcomes", None), "hit_multiple", 2.0))
        measured = [o for o in found if o.ret_1h_pct is not None]
        st.caption(f"What the market did after each event: returns 5 min, 1 h and 4 h after it, and the largest "
                   f"move for and against its direction within 1 h. A hit is a move its way of at least "
                   f"{multiple:g}x the coin's usual 1-hour move. {len(measured)} of {len(found)} events measured at +1 h.")
        if not found:
            st.info("No events in this period yet.")
            return
        st.dataframe(table_frame(found), hide_index=True, width="stretch")
        for sym, kind in sorted({(o.symbol, o.kind) for o in measured})[:12]:
            st.markdown(f"- {fmt.md_escape(outlook_note(found, sym, kind, multiple))}")
        st.dataframe(events_frame(found), hide_index=True, width="stretch", height=320)

