"""Alerts: history with filters, acknowledge, mute a symbol or a kind for a while, CSV download."""

from __future__ import annotations

import streamlit as st

from virtuoso.app.view import MonitorView
from virtuoso.domain.alerts import AlertKind, Severity
from virtuoso.ui import components, fmt, keys, readers, runtime, tables
from virtuoso.ui.outcomes import outcomes_section

HOURS = {"1 h": 1, "6 h": 6, "24 h": 24, "3 d": 72, "7 d": 168, "30 d": 720}
MUTE_MINUTES = {"15 min": 15, "1 h": 60, "4 h": 240, "24 h": 1_440, "7 d": 10_080}
ALERT_COLUMNS = {
    "time_utc": st.column_config.TextColumn("Time (UTC)"),
    "score": st.column_config.ProgressColumn("Score", min_value=0, max_value=100, format="%.0f"),
    "acknowledged": st.column_config.CheckboxColumn("Ack"),
    "evidence": st.column_config.TextColumn("Evidence", width="large"),
    "ts_event_ms": None,
    "id": st.column_config.TextColumn("Id"),
}


def _filtered(view: MonitorView, now: int) -> tuple[list, set[str]]:
    since = now - HOURS[st.session_state.get(keys.ALERTS_HOURS) or "24 h"] * 3_600_000
    acked = view.acknowledged()
    hide = None if st.session_state.get(keys.ALERTS_SHOW_ACKED, True) else acked
    found = tables.filter_alerts(
        readers.alerts(view, since, now), symbols=st.session_state.get(keys.ALERTS_SYMBOLS) or (),
        kinds=st.session_state.get(keys.ALERTS_KINDS) or (), severities=st.session_state.get(keys.ALERTS_SEVERITIES) or (),
        since_ms=since, hide_ids=hide,
    )
    return found, acked


def _history(view: MonitorView) -> None:
    with components.guarded("Alert history"):
        now = runtime.now_ms(view)
        found, acked = _filtered(view, now)
        df = tables.alerts_frame(found, acked)
        muted = view.active_mutes()
        st.caption(f"{len(df)} alerts match · {sum(df['acknowledged']) if len(df) else 0} acknowledged · "
                   f"{len(muted)} active mutes")
        if df.empty:
            st.info("No alerts match these filters.")
        else:
            st.dataframe(df, column_config=ALERT_COLUMNS, hide_index=True, width="stretch", height=420)
        st.download_button("Download CSV", df.drop(columns=["ts_event_ms"]).to_csv(index=False).encode("utf-8"),
                           file_name="virtuoso-alerts.csv", mime="text/csv", key="alerts.csv")


def _acknowledge(view: MonitorView) -> None:
    view.acknowledge(list(st.session_state.get(keys.ALERTS_TO_ACK) or []))
    st.session_state[keys.ALERTS_TO_ACK] = []


def _mute(view: MonitorView) -> None:
    target = st.session_state.get(keys.MUTE_TARGET)
    if target:
        until = runtime.now_ms(view) + MUTE_MINUTES[st.session_state[keys.MUTE_MINUTES]] * 60_000
        view.mute(st.session_state[keys.MUTE_TARGET_KIND], target, until)


view = runtime.view(__file__)
components.header(view, "Alerts", "Filter, acknowledge, mute. Muted alerts are still recorded here but are "
                  "not sent to Discord until the mute ends.")
with components.guarded("Alerts page"):
    now = runtime.now_ms(view)
    f = st.columns([3, 3, 2, 1.2, 1.4])
    symbols = sorted(set(view.symbols()) | {a.symbol for a in readers.alerts(view, now - 720 * 3_600_000, now)})
    f[0].multiselect("Symbol", symbols, key=keys.ALERTS_SYMBOLS, placeholder="all symbols")
    f[1].multiselect("Kind", [k.value for k in AlertKind], key=keys.ALERTS_KINDS, placeholder="all kinds")
    f[2].multiselect("Severity", [s.value for s in Severity], key=keys.ALERTS_SEVERITIES, placeholder="all")
    f[3].selectbox("Since", list(HOURS), index=2, key=keys.ALERTS_HOURS)
    f[4].toggle("Include acked", value=True, key=keys.ALERTS_SHOW_ACKED)

    components.live(_history, view)
    outcomes_section(view, now - HOURS[st.session_state.get(keys.ALERTS_HOURS) or "24 h"] * 3_600_000, now,
                     st.session_state.get(keys.ALERTS_SYMBOLS) or None)

    found, acked = _filtered(view, now)
    open_alerts = {a.id: a for a in found if a.id not in acked}
    ack_col, mute_col = st.columns(2)
    with ack_col:
        st.subheader("Acknowledge")
        st.multiselect(
            "Alerts to acknowledge", list(open_alerts), key=keys.ALERTS_TO_ACK, placeholder="choose alerts",
            format_func=lambda i: f"{fmt.utc(open_alerts[i].ts_event_ms)} {open_alerts[i].symbol} "
                                  f"{open_alerts[i].kind.value} ({open_alerts[i].severity.value})" if i in open_alerts else i,
        )
        st.button("Acknowledge selected", key=keys.ALERTS_ACK_BUTTON, on_click=components.safe("Acknowledge", _acknowledge), args=(view,),
                  disabled=not open_alerts)
    with mute_col:
        st.subheader("Mute")
        kind = st.radio("Mute a", ["symbol", "kind"], horizontal=True, key=keys.MUTE_TARGET_KIND)
        targets = symbols if kind == "symbol" else [k.value for k in AlertKind]
        st.selectbox("Target", targets, key=keys.MUTE_TARGET)
        st.selectbox("For", list(MUTE_MINUTES), index=1, key=keys.MUTE_MINUTES)
        st.button("Mute", key=keys.MUTE_BUTTON, on_click=components.safe("Mute", _mute), args=(view,))
        for m in view.active_mutes():
            c1, c2 = st.columns([4, 1])
            c1.write(f"{m.target_kind} **{fmt.md_escape(m.target)}** muted until {fmt.utc(m.until_ms)} UTC")
            c2.button("Unmute", key=f"{keys.UNMUTE_PREFIX}{m.target_kind}.{m.target}",
                      on_click=components.safe("Unmute", view.unmute), args=(m.target_kind, m.target))
