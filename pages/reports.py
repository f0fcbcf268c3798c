"""Reports: choose a period and symbols, export a PDF with progress, download it."""

from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from virtuoso.reports.export import export_pdf
from virtuoso.ui import components, fmt, keys, runtime

PERIODS_H = {"1 h": 1, "6 h": 6, "24 h": 24, "3 d": 72, "7 d": 168}


view = runtime.view(__file__)
components.header(view, "Reports", "A PDF with the period's charts, alerts and statistics per symbol.")
with components.guarded("Reports"):
    c = st.columns([1, 3])
    period = c[0].selectbox("Period", list(PERIODS_H), index=2, key=keys.REPORT_HOURS)
    symbols = c[1].multiselect("Symbols", list(view.symbols()), default=list(view.symbols()), key=keys.REPORT_SYMBOLS)
    clicked = st.button("Export PDF", type="primary", key=keys.REPORT_EXPORT, disabled=not symbols)
    if clicked:
        out_dir = Path(view.settings.data_dir) / "reports"
        out_dir.mkdir(parents=True, exist_ok=True)
        out = out_dir / f"virtuoso-report-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}.pdf"
        bar = st.progress(0.0, text="Starting…")

        def progress(fraction: float, label: str) -> None:
            bar.progress(min(max(float(fraction), 0.0), 1.0), text=fmt.one_line(label, 120))

        result = export_pdf(view, PERIODS_H[period], list(symbols), out, progress=progress)
        bar.progress(1.0, text=f"Done in {result.seconds:.1f} s")
        st.session_state[keys.REPORT_LAST] = (str(result.path), result.pages, list(result.warnings),
                                              list(getattr(result, "chart_errors", []) or []))
    last = st.session_state.get(keys.REPORT_LAST)
    if last:
        path, pages, warnings, chart_errors = last
        st.success(f"Report ready: {Path(path).name} ({pages} pages)")
        for w in [*warnings, *chart_errors]:
            st.warning(fmt.one_line(w))
        if Path(path).is_file():
            st.download_button("Download PDF", Path(path).read_bytes(), file_name=Path(path).name,
                               mime="application/pdf", key="report.download")
