"""PDF export: read a MonitorView, compose, draw charts, render, write the file atomically.

The dashboard's Reports page calls :func:`export_pdf` with the running engine; ``virtuoso report``
calls it with a read-only view over the stored history. ``progress(fraction, label)`` is called
as the work advances (0..1) so the page can drive its progress bar.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from virtuoso.reports.charts import ChartRenderer, chart_requests, render_charts
from virtuoso.reports.compose import Report, ReportInputs, compose
from virtuoso.reports.render import render_pdf

if TYPE_CHECKING:  # the view is a Protocol; reports do not depend on the app at run time
    from virtuoso.app.view import MonitorView

log = logging.getLogger(__name__)
Progress = Callable[[float, str], None]
MAX_HOURS = 24 * 30


@dataclass(frozen=True, slots=True)
class ReportResult:
    path: Path
    pages: int
    images: int
    warnings: tuple[str, ...]
    chart_errors: tuple[str, ...]  # "SYMBOL chart title: error", one per failed chart
    seconds: float
    simulated: bool = False
    size_bytes: int = 0


def _now_ms(view: Any) -> int:
    clock = getattr(view, "clock", None)
    if clock is not None and hasattr(clock, "now_ms"):
        return int(clock.now_ms())
    return time.time_ns() // 1_000_000


def _safe(call: Callable[[], Any], default: Any, what: str, warnings: list[str]) -> Any:
    try:
        return call()
    except Exception as exc:  # a broken part of the view leaves a gap in the report, not no report
        warnings.append(f"{what} unavailable: {type(exc).__name__}: {exc}"[:300])
        return default


def gather(view: "MonitorView", hours: float, symbols: Sequence[str] | None, warnings: list[str],
           now_ms: int | None = None) -> ReportInputs:
    """Read everything the report needs from the view (the only place the export touches it)."""
    if not (isinstance(hours, (int, float)) and math.isfinite(hours) and 0 < hours <= MAX_HOURS):
        raise ValueError(f"hours must be > 0 and <= {MAX_HOURS}, got {hours!r}")
    end_ms = _now_ms(view) if now_ms is None else now_ms
    minutes = int(math.ceil(hours * 60))
    start_ms = end_ms - minutes * 60_000
    syms = tuple(dict.fromkeys(str(s) for s in (symbols if symbols else view.symbols())))
    info = view.source_info()
    bars = {s: _safe(lambda s=s: list(view.bars_1m(s, minutes)), [], f"bars of {s}", warnings) for s in syms}
    alerts = _safe(lambda: list(view.alerts(since_ms=start_ms, symbols=list(syms))), [], "alerts", warnings)
    health = _safe(view.health, {}, "health", warnings)
    scores = _safe(view.composite_scores, {}, "composite scores", warnings) if hasattr(view, "composite_scores") else {}
    outcomes = (_safe(lambda: list(view.alert_outcomes(since_ms=start_ms, symbols=list(syms))), [], "alert outcomes",
                      warnings) if hasattr(view, "alert_outcomes") else [])
    return ReportInputs(
        start_ms=start_ms, end_ms=end_ms, generated_ms=time.time_ns() // 1_000_000, symbols=syms,
        source_name=info.name, source_simulated=bool(info.simulated), source_reason=info.reason,
        bars=bars, alerts=alerts, thresholds=view.thresholds(), policy=view.settings.policy,
        health=health if isinstance(health, dict) else {}, composite_scores=scores if isinstance(scores, dict) else {},
        outcomes=outcomes, hit_multiple=_hit_multiple(view),
    )


def _hit_multiple(view: Any) -> float:
    try:
        return float(view.settings.outcomes.hit_multiple)
    except (AttributeError, TypeError, ValueError):
        return 2.0


def warm_up() -> None:
    """Import matplotlib and xhtml2pdf ahead of the first export (about 0.7 s of CPU on the
    benchmark machine); the Reports page may call it once when it loads."""
    import matplotlib.backends.backend_agg  # noqa: F401
    import xhtml2pdf.pisa  # noqa: F401


def export_pdf(
    view: "MonitorView",
    hours: float,
    symbols: Sequence[str] | None,
    out: Path,
    progress: Progress | None = None,
    *,
    chart_renderer: ChartRenderer | None = None,
    now_ms: int | None = None,
) -> ReportResult:
    """Write the report for the last ``hours`` to ``out``; a failing chart leaves a placeholder, not a failure.

    ``chart_renderer`` replaces the matplotlib renderer (tests force failures with it); ``now_ms``
    ends the period at a given time instead of the view's clock.
    """
    started = time.perf_counter()
    tell = progress or (lambda _f, _l: None)
    warnings: list[str] = []
    tell(0.02, "reading stored data")
    inputs = gather(view, hours, symbols, warnings, now_ms)
    tell(0.15, "composing")
    report: Report = compose(inputs)
    requests = chart_requests(report)
    tell(0.2, f"drawing {len(requests)} charts")
    charts = render_charts(requests, chart_renderer,
                           lambda i, n: tell(0.2 + 0.55 * i / max(n, 1), f"chart {i} of {n}"))
    tell(0.78, "rendering PDF")
    rendered = render_pdf(report, charts)
    tell(0.95, "writing file")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(rendered.pdf)
    os.replace(tmp, out)
    errors = tuple(f"{c.symbol} {c.title}: {c.error}" for c in charts if c.error)
    for e in errors:
        log.warning("report chart failed: %s", e)
    result = ReportResult(
        path=out, pages=rendered.pages, images=rendered.images,
        warnings=tuple(warnings) + rendered.warnings + tuple(f"refused URI {u}" for u in rendered.refused_uris),
        chart_errors=errors, seconds=round(time.perf_counter() - started, 3), simulated=report.simulated,
        size_bytes=len(rendered.pdf),
    )
    tell(1.0, "done")
    return result
