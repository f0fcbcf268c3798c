"""Health: source and connection, message ages and rates, pipeline, storage, sinks, recent errors."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from virtuoso.app.view import MonitorView
from virtuoso.ui import components, fmt, runtime, tables

SECTIONS = {
    "source": "Source and connection",
    "pipeline": "Pipeline (queue, drops, parser counters)",
    "storage": "Storage",
    "bus": "Alert bus",
    "sinks": "Sinks (queues, outbox backlog)",
}


def _live(view: MonitorView) -> None:
    with components.guarded("Health panel"):
        health = view.health()
        now = int(health.get("ts_ms") or runtime.now_ms(view))
        info = view.source_info()
        status = "running" if health.get("running", True) else "stopped"
        st.markdown(f"**Source:** {fmt.md_escape(info.name)} · {status} · since {fmt.utc(info.started_ms)} UTC  \n"
                    f"**Why this source:** {fmt.md_escape(fmt.one_line(info.reason))}")
        names = [k for k in SECTIONS if k in health] + [k for k in health if k not in SECTIONS and isinstance(health[k], dict)]
        cols = st.columns(2)
        for i, name in enumerate(names):
            with cols[i % 2]:
                st.subheader(SECTIONS.get(name, name.replace("_", " ").capitalize()))
                section = health.get(name)
                table = tables.health_frame(section, now)
                if table.empty:
                    st.caption("nothing reported")
                else:
                    st.dataframe(table, hide_index=True, width="stretch", height=36 + 35 * len(table))
                for sub, df in tables.health_lists(section).items():
                    st.caption(sub)
                    st.dataframe(df, hide_index=True, width="stretch")
        st.subheader("Recent errors and warnings")
        errors = health.get("errors") or []
        if not errors:
            st.success("No warnings or errors recorded.")
        else:
            df = pd.DataFrame([dict(e) for e in errors][::-1])
            if "ts_ms" in df:
                df.insert(0, "time_utc", [fmt.utc(x) for x in df.pop("ts_ms")])
            st.dataframe(df, hide_index=True, width="stretch")


view = runtime.view(__file__)
components.header(view, "Health", "Everything an operator checks first. Refreshes every "
                  f"{runtime.refresh_s(view):g} s.")
components.live(_live, view)
