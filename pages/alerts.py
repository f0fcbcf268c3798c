"""Alerts: history with filters, acknowledge, mute a symbol or a kind for a while, CSV download."""

from __future__ import annotations

import hashlib
from collections import Counter

import pandas as pd
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
    "ts_start_ms": None,
    "id": st.column_config.TextColumn("Id"),
}
ACK_COLUMNS = {
    "ack": st.column_config.CheckboxColumn("Acknowledge", help="Tick, then press Acknowledge ticked"),
    "time_utc": st.column_config.TextColumn("Time (UTC)", disabled=True),
    "symbol": st.column_config.TextColumn("Symbol", disabled=True),
    "kind": st.column_config.TextColumn("Kind", disabled=True),
    "severity": st.column_config.TextColumn("Severity", disabled=True),
    "id": None,
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
        st.caption(f"{len(df)} alerts match · {sum(df['acknowledged']) if len(df) else 0} acknowledged · "
                   f"{len(view.active_mutes())} active mutes · click a row to open its chart")
        if df.empty:
            st.info("No alerts match these filters.")
        else:
            targets = [(r.symbol, r.ts_start_ms, r.ts_event_ms) for r in df.itertuples()]
            st.dataframe(df, column_config=ALERT_COLUMNS, hide_index=True, width="stretch", height=420,
                         key=keys.ALERTS_TABLE, selection_mode="single-row",
                         on_select=components.picker(keys.ALERTS_TABLE, targets))
        st.download_button("Download CSV", df.drop(columns=["ts_event_ms", "ts_start_ms"]).to_csv(index=False).encode("utf-8"),
                           file_name="virtuoso-alerts.csv", mime="text/csv", key="alerts.csv")
    components.follow_pick(keys.ALERTS_TABLE)


def _editor_key(open_ids: list[str]) -> str:
    """A new editor whenever the open alerts change, so a tick never lands on a different row."""
    return keys.ALERTS_ACK_EDITOR + hashlib.sha1("|".join(open_ids).encode()).hexdigest()[:12]


def _acknowledge_ticked(view: MonitorView, editor_key: str, ids: list[str]) -> None:
    edits = (st.session_state.get(editor_key) or {}).get("edited_rows", {})
    view.acknowledge([ids[int(row)] for row, change in edits.items() if change.get("ack") and int(row) < len(ids)])


def _ask_ack_all(ids: list[str]) -> None:
    st.session_state[keys.ALERTS_ACK_ALL_PENDING] = list(ids)


def _confirm_ack_all(view: MonitorView) -> None:
    view.acknowledge(st.session_state.pop(keys.ALERTS_ACK_ALL_PENDING, None) or [])


def _cancel_ack_all() -> None:
    st.session_state.pop(keys.ALERTS_ACK_ALL_PENDING, None)


def _acknowledge_section(view: MonitorView, open_alerts: list) -> None:
    st.subheader("Acknowledge")
    if not open_alerts:
        st.caption("Every alert shown is acknowledged.")
        return
    ids = [a.id for a in open_alerts]
    editor_key = _editor_key(ids)
    frame = pd.DataFrame({"ack": [False] * len(open_alerts), "time_utc": [fmt.utc(a.ts_event_ms) for a in open_alerts],
                          "symbol": [a.symbol for a in open_alerts], "kind": [a.kind.value.replace("_", " ") for a in open_alerts],
                          "severity": [a.severity.value for a in open_alerts], "id": ids})
    st.data_editor(frame, column_config=ACK_COLUMNS, hide_index=True, width="stretch", key=editor_key,
                   height=min(38 + 35 * len(frame), 320))
    ticked = sum(1 for c in (st.session_state.get(editor_key) or {}).get("edited_rows", {}).values() if c.get("ack"))
    a, b = st.columns(2)
    a.button(f"Acknowledge ticked ({ticked})", key=keys.ALERTS_ACK_BUTTON, disabled=not ticked,
             on_click=components.safe("Acknowledge", _acknowledge_ticked), args=(view, editor_key, ids))
    b.button(f"Acknowledge all shown ({len(ids)})…", key=keys.ALERTS_ACK_ALL, on_click=_ask_ack_all, args=(ids,))
    pending = st.session_state.get(keys.ALERTS_ACK_ALL_PENDING)
    if pending:
        by_sev = Counter(a.severity.value for a in open_alerts if a.id in set(pending))
        worst = ", ".join(f"{by_sev[s.value]} {s.value}" for s in tables.SEVERITY_ORDER if by_sev.get(s.value))
        st.warning(f"Acknowledge all {len(pending)} alerts shown ({worst})? They stay in the history, marked as seen.")
        c, d = st.columns(2)
        c.button(f"Yes, acknowledge {len(pending)}", key=keys.ALERTS_ACK_ALL_CONFIRM, type="primary",
                 on_click=components.safe("Acknowledge all", _confirm_ack_all), args=(view,))
        d.button("Cancel", key=keys.ALERTS_ACK_ALL_CANCEL, on_click=_cancel_ack_all)


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
    ack_col, mute_col = st.columns(2)
    with ack_col:
        _acknowledge_section(view, [a for a in sorted(found, key=lambda a: a.ts_event_ms, reverse=True) if a.id not in acked])
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
