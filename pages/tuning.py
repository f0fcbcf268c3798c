"""Detection tuning: a slider per threshold, presets and reset, an instant backtest preview, Apply."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from virtuoso.app.view import MonitorView
from virtuoso.ui import components, figures, fmt, keys, readers, runtime, tables, tuning

HISTORY_HOURS = {"6 h": 6, "24 h": 24, "3 d": 72}
SPECS = tuning.slider_specs()


def _fill(values: dict) -> None:
    for name, v in values.items():
        st.session_state[keys.tune_key(name)] = v


def _apply(view: MonitorView) -> None:
    candidate = tuning.build(view.thresholds(), _slider_values())
    view.apply_thresholds(candidate)
    st.session_state[keys.TUNE_NOTICE] = "Applied: the engine uses these thresholds now; saved to thresholds.json."


def _slider_values() -> dict:
    return {s.name: st.session_state[keys.tune_key(s.name)] for s in SPECS if keys.tune_key(s.name) in st.session_state}


def _fmt_num(v: float, spec: tuning.SliderSpec) -> str:
    return f"{v:,.0f}" if spec.is_int or spec.step >= 1 else f"{v:g}"


view = runtime.view(__file__)
components.header(view, "Detection tuning", "Move a slider: the preview recounts at once on the recorded 1-minute "
                  "history. Apply makes the running engine use the thresholds and keeps them across restarts.")
with components.guarded("Detection tuning"):
    applied = view.thresholds()
    if any(keys.tune_key(s.name) not in st.session_state for s in SPECS):
        _fill(tuning.values_of(applied))

    b = st.columns(5)
    for i, name in enumerate(tuning.PRESETS):
        b[i].button(name.capitalize(), key=keys.TUNE_PRESET_PREFIX + name, on_click=_fill, args=(tuning.preset(name),),
                    width="stretch")
    b[3].button("Reset to applied", key=keys.TUNE_RESET, on_click=_fill, args=(tuning.values_of(applied),), width="stretch")
    b[4].button("Apply", key=keys.TUNE_APPLY, type="primary", on_click=components.safe("Apply", _apply), args=(view,), width="stretch")
    if st.session_state.get(keys.TUNE_NOTICE):
        st.success(st.session_state.pop(keys.TUNE_NOTICE))

    cols = st.columns(3)
    for i, spec in enumerate(SPECS):
        with cols[i % 3]:
            step = int(spec.step) if spec.is_int else spec.step
            lo, hi = (int(spec.lo), int(spec.hi)) if spec.is_int else (spec.lo, spec.hi)
            st.slider(f"{spec.label} ({spec.unit}) · default {_fmt_num(spec.default, spec)}", lo, hi, step=step,
                      key=keys.tune_key(spec.name), format=spec.format,
                      help=f"{spec.description} Default {_fmt_num(spec.default, spec)} {spec.unit}.")

    candidate = tuning.build(applied, _slider_values())
    diff = tuning.changed(applied, candidate)
    st.caption("Unapplied changes: " + (", ".join(diff) if diff else "none"))

    head, pick = st.columns([4, 1])
    head.subheader("Preview on recorded history")
    hours_label = pick.selectbox("History window", list(HISTORY_HOURS), index=1, key=keys.TUNE_HOURS)
    bt = tuning.load_backtest()
    if bt is None:
        st.info("Backtest not available yet (virtuoso.detect.backtest is not installed); sliders and Apply still work.")
    else:
        now = runtime.now_ms(view)
        minutes = HISTORY_HOURS[hours_label or "24 h"] * 60
        history = readers.history(view, minutes, now)
        need = tuning.preview_minutes_needed()
        short = tuning.history_shortfall(history, need)
        if short:
            st.info(tuning.shortfall_text(short, need))
        t0 = time.perf_counter()
        flags, counts = readers.backtest(view, bt, history, minutes, now, candidate)
        _, counts_now = readers.backtest(view, bt, history, minutes, now, applied)
        took_ms = (time.perf_counter() - t0) * 1000
        total, total_now = sum(map(sum, (c.values() for c in counts.values()))), sum(map(sum, (c.values() for c in counts_now.values())))
        kinds = sorted({k for c in counts.values() for k in c} | {k for c in counts_now.values() for k in c})
        m = st.columns(3)
        m[0].metric("Flags with these thresholds", total, total - total_now, delta_color="off")
        m[1].metric("Flags with applied thresholds", total_now)
        m[2].metric("Recorded history", f"{sum(len(v) for v in history.values()):,} bars")
        st.caption(f"Backtest over {len(history) - len(short)} of {len(history)} symbols with enough history took "
                   f"{took_ms:.0f} ms (slider positions already seen are cached).")
        for sym in history:
            counts.setdefault(sym, {})
        st.dataframe(tables.counts_frame(counts, kinds), hide_index=True, width="stretch",
                     column_config={"symbol": st.column_config.TextColumn("Symbol")})
        symbol = st.selectbox("Chart", list(history), key=keys.TUNE_CHART_SYMBOL)
        if symbol:
            st.plotly_chart(figures.backtest_figure(symbol, history.get(symbol, []), flags), width="stretch",
                            key="tune.chart")
    with st.expander("Applied thresholds"):
        st.dataframe(pd.DataFrame({"threshold": list(applied.model_dump()),
                                   "value": [fmt.one_line(v) for v in applied.model_dump().values()]}),
                     hide_index=True, width="stretch")
