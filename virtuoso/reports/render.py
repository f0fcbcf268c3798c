"""Report rendering (I/O at the edge): report model + charts -> HTML -> PDF bytes with xhtml2pdf.

Safe by construction:

- every piece of text goes through :func:`esc` (``html.escape``), so a symbol such as
  ``<img src="http://...">`` is printed, never parsed;
- the only URIs the HTML names are the charts' ``data:image/png`` URIs, and the renderer is given
  a link callback (:class:`DataOnlyLinks`) that swaps any other URI for a blank embedded image,
  plus a resource policy that forbids remote fetches and local reads, so even markup that slipped
  past escaping could not read a file or reach the network;
- xhtml2pdf's log records at WARNING or above, its own warning count and Python warnings raised
  while rendering are collected and returned, so tests (and the UI) can insist on none.
"""

from __future__ import annotations

import html
import logging
import re
import string
import warnings
from dataclasses import dataclass
from importlib import resources
from io import BytesIO
from typing import Any, Iterable, Sequence

from virtuoso.reports.charts import Chart
from virtuoso.reports import numbers
from virtuoso.reports.compose import Report, SymbolSection
from virtuoso.reports.outcomes_html import outcomes_html

# A 1x1 transparent PNG: what a refused URI becomes, so the renderer has nothing to fetch.
BLANK_PNG_URI = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
CHART_WIDTH_CM = 18.0
CHART_HEIGHT_CM = 18.0 * 2.25 / 7.6
_PAGE_RE = re.compile(rb"/Type\s*/Page(?![s\w])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _drawable(ch: str) -> str:
    """The character if the PDF's standard fonts (WinAnsi) can draw it, else a visible escape."""
    o = ord(ch)
    if ch in "\n\t":
        return ch
    if o < 0x20 or 0x7F <= o < 0xA0:
        return f"\\x{o:02x}"
    try:
        ch.encode("cp1252")
        return ch
    except UnicodeEncodeError:
        return f"\\u{o:04x}" if o <= 0xFFFF else f"\\U{o:08x}"


def esc(value: Any) -> str:
    """Text for HTML: escaped, quotes included, and limited to what the standard fonts can draw.

    Anything else (CJK, emoji, control and bidi-override characters) is shown as a ``\\uXXXX``
    escape: the report stays free of renderer warnings, and a symbol cannot hide or reorder
    its own text.
    """
    text = str(value)
    if not text.isascii() or _CONTROL.search(text):
        text = "".join(_drawable(c) for c in text)
    return html.escape(text, quote=True)


class DataOnlyLinks:
    """xhtml2pdf link callback: embedded ``data:image/`` URIs pass, anything else is refused and recorded.

    xhtml2pdf keeps the original URI when a callback returns a false value, so refusing means
    returning a harmless blank image instead.
    """

    def __init__(self) -> None:
        self.refused: list[str] = []

    def __call__(self, uri: Any, rel: Any = None) -> str:
        if isinstance(uri, str) and uri.startswith("data:image/"):
            return uri
        self.refused.append(str(uri)[:200])
        return BLANK_PNG_URI


@dataclass(frozen=True, slots=True)
class RenderResult:
    pdf: bytes
    pages: int
    images: int
    warnings: tuple[str, ...]
    refused_uris: tuple[str, ...]


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = record.getMessage()
        except Exception:
            msg = str(record.msg)
        self.messages.append(f"{record.levelname} {record.name}: {msg}"[:500])


def _template() -> string.Template:
    text = resources.files("virtuoso.reports").joinpath("template.html").read_text(encoding="utf-8")
    return string.Template(text)


def _ul(lines: Iterable[str]) -> str:
    return "<ul>" + "".join(f"<li>{esc(x)}</li>" for x in lines) + "</ul>"


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], cls: str = "small", repeat: bool = True,
           widths: Sequence[int] | None = None) -> str:
    ws = [f' width="{w}%"' for w in widths] if widths else [""] * len(headers)
    head = "<tr>" + "".join(f"<th{w}>{esc(h)}</th>" for h, w in zip(headers, ws)) + "</tr>"
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    rep = ' repeat="1"' if repeat else ""
    return f'<table class="{cls}"{rep}>{head}{body}</table>'


def _cover(r: Report) -> str:
    label = ('<div class="label-sim">SIMULATED DATA &#8211; not real market data</div>' if r.simulated
             else '<div class="label-real">REAL market data</div>')
    rows = [
        ("Period", f"{r.period_start_utc} to {r.period_end_utc} ({r.hours:g} h)"),
        ("Symbols", ", ".join(r.symbols) or "none"),
        ("Data source", f"{r.source_label} ({r.source_name})"),
        ("Source detail", r.source_reason or "\u2013"),
        ("Generated", r.generated_utc),
        ("Settings fingerprint", r.fingerprint),
        ("Alerts in period", str(r.alerts_total)),
    ]
    table = '<table class="cover">' + "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows) + "</table>"
    return (f"<h1>{esc(r.title)}</h1><p class=\"muted\">Bybit linear perpetuals &#8211; manipulation monitor</p>"
            f"<p>&#160;</p>{label}<p>&#160;</p>{table}"
            "<p class=\"muted\">The settings fingerprint is a short hash of the detection thresholds and alert "
            "policy in force; two reports with the same fingerprint were produced under the same settings.</p>")


def _summary(r: Report) -> str:
    # One number format per column: prices at each instrument's tick, amounts all in the column's
    # unit (named in the header), percentages signed.
    secs = r.sections
    vol_unit, vols = numbers.scaled_column([s.turnover_usd for s in secs])
    liq_unit, liqs = numbers.scaled_column([v for s in secs for v in (s.long_liq_usd, s.short_liq_usd)])
    market = _table(["Symbol", "Last (USDT)", "Change", "High (USDT)", "Low (USDT)", f"Volume ({vol_unit})", "Gaps"],
                    [(s.symbol, numbers.price(s.last_price, s.price_decimals), numbers.signed_pct(s.change_pct),
                      numbers.price(s.high, s.price_decimals), numbers.price(s.low, s.price_decimals), vols[i], s.gaps)
                     for i, s in enumerate(secs)])
    inst = _table(["Symbol", "OI change", "Busiest minute / median", "Buy share", f"Long liq. ({liq_unit})",
                   f"Short liq. ({liq_unit})"],
                  [(s.symbol, numbers.signed_pct(s.oi_change_pct),
                    f"{s.max_minute_volume / s.median_minute_volume:.1f}x" if s.median_minute_volume > 0 else "\u2013",
                    numbers.share_pct(s.buy_share_pct, 100.0) if numbers.finite(s.buy_share_pct) else "\u2013",
                    liqs[2 * i], liqs[2 * i + 1]) for i, s in enumerate(secs)])
    outlook = _table(["Symbol", "Composite score", "Flags in force"],
                     [(o.symbol, f"{o.composite_score:.0f}", o.flags) for o in r.outlook_rows])
    return ("<pdf:nextpage /><h2>Executive summary</h2>"
            f"<h3>Market Overview</h3>{_ul(r.market_overview)}{market}"
            f"<h3>Institutional Activity</h3>{_ul(r.institutional)}{inst}"
            f"<h3>Trading Outlook</h3>{_ul(r.outlook)}"
            f"<p class=\"muted\">Scores: {esc(r.outlook_score_source)}.</p>{outlook}")


def _chart_html(c: Chart) -> str:
    if c.data_uri is not None:
        return (f'<p class="caption">{esc(c.caption)}</p><div class="chart"><img src="{esc(c.data_uri)}" '
                f'style="width: {CHART_WIDTH_CM:.1f}cm; height: {CHART_HEIGHT_CM:.2f}cm;"></div>')
    return (f'<div class="placeholder">Chart unavailable: {esc(c.title)} for {esc(c.symbol)} &#8211; '
            f'{esc(c.error or "unknown error")} (see the appendix)</div>')


def _symbol_page(s: SymbolSection, charts: Sequence[Chart]) -> str:
    stats = (f"Last {numbers.price(s.last_price, s.price_decimals)} USDT ({numbers.signed_pct(s.change_pct)}), "
             f"OI {numbers.signed_pct(s.oi_change_pct)}, "
             f"{s.minutes_with_data} minutes of bars, {s.gaps} gap(s), {len(s.alerts)} alert(s)"
             f"{'' if s.bar_minutes == 1 else f', charted in {s.bar_minutes}-minute buckets'}.")
    return (f"<pdf:nextpage /><h2>{esc(s.symbol)}</h2><p class=\"stats\">{esc(stats)}</p>"
            + "".join(_chart_html(c) for c in charts))


def _alerts(r: Report) -> str:
    note = ""
    if r.alerts_total > len(r.alert_rows):
        note = f"<p class=\"muted\">Showing the latest {len(r.alert_rows)} of {r.alerts_total} alerts.</p>"
    if not r.alert_rows:
        return "<pdf:nextpage /><h2>Alerts</h2><p>No alerts in the period.</p>"
    table = _table(["Time (UTC)", "Symbol", "Kind", "Severity", "Score", "Evidence"],
                   [(a.time_utc, a.symbol, a.kind, a.severity, a.score, a.evidence) for a in r.alert_rows],
                   widths=(17, 13, 17, 9, 6, 38))
    return f"<pdf:nextpage /><h2>Alerts</h2>{note}{table}"


def _settings(r: Report) -> str:
    th = _table(["Threshold", "Value", "Unit", "Meaning"], [(t.name, t.value, t.unit, t.description) for t in r.thresholds],
                widths=(30, 12, 8, 50))
    po = _table(["Policy", "Value", "Meaning"], [(t.name, t.value, t.description) for t in r.policy], widths=(30, 20, 50))
    return (f"<pdf:nextpage /><h2>Thresholds in force</h2><p class=\"muted\">Settings fingerprint {esc(r.fingerprint)}."
            f"</p>{th}<h3>Alert policy</h3>{po}")


def _health(r: Report) -> str:
    gaps = _table(["Symbol", "Minutes with bars", "Gaps in stored bars"],
                  [(s.symbol, s.minutes_with_data, s.gaps) for s in r.sections])
    if r.health:
        rows = _table(["Area", "Item", "Value"], r.health, widths=(20, 25, 55))
    else:
        rows = "<p class=\"muted\">No engine health was available (no running engine and no health.json).</p>"
    return f"<h2>Health summary</h2><h3>Data gaps</h3>{gaps}<h3>Source, pipeline and delivery</h3>{rows}"


def _appendix(errors: Sequence[Chart]) -> str:
    if not errors:
        return ""
    rows = _table(["Symbol", "Chart", "Error"], [(c.symbol, c.title, c.error or "") for c in errors], widths=(20, 25, 55))
    return f"<pdf:nextpage /><h2>Appendix: chart errors</h2>{rows}"


def build_html(report: Report, charts: Sequence[Chart]) -> str:
    """The whole document as XHTML; every dynamic string escaped."""
    by_symbol: dict[str, list[Chart]] = {}
    for c in charts:
        by_symbol.setdefault(c.symbol, []).append(c)
    body = [_cover(report), _summary(report)]
    body += [_symbol_page(s, by_symbol.get(s.symbol, [])) for s in report.sections]
    body += [_alerts(report), outcomes_html(report.outcomes, esc, _table, _ul), _settings(report), _health(report),
             _appendix([c for c in charts if c.error])]
    sim = report.simulated
    footer = f"{report.title} \u2013 {report.period_start_utc} to {report.period_end_utc} \u2013 {report.source_label}"
    return _template().substitute(
        title=esc(report.title),
        footer=esc(footer),
        watermark_frame=("@frame watermark_frame { -pdf-frame-content: watermark; left: 1.4cm; right: 1.4cm; "
                         "top: 16cm; height: 4cm; }") if sim else "",
        watermark_div='<div id="watermark">SIMULATED</div>' if sim else "",
        body="".join(body),
    )


def render_pdf(report: Report, charts: Sequence[Chart]) -> RenderResult:
    """Render to PDF bytes. Raises RuntimeError if xhtml2pdf reports an error (a warning is returned)."""
    from xhtml2pdf import pisa
    from xhtml2pdf.config.resources import ResourceAccessPolicy

    doc = build_html(report, charts)
    return render_html(doc, images=sum(1 for c in charts if c.data_uri is not None),
                       policy=ResourceAccessPolicy(allow_remote=False, base_dir=None), pisa=pisa)


def render_html(doc: str, images: int = 0, policy: Any = None, pisa: Any = None) -> RenderResult:
    """Render any HTML with the data-only link callback and the warning capture (tests use it directly)."""
    if pisa is None:
        from xhtml2pdf import pisa
    if policy is None:
        from xhtml2pdf.config.resources import ResourceAccessPolicy

        policy = ResourceAccessPolicy(allow_remote=False, base_dir=None)
    from reportlab import rl_config

    links = DataOnlyLinks()
    handler = _Collect()
    logger = logging.getLogger("xhtml2pdf")
    logger.addHandler(handler)
    out = BytesIO()
    # Binary streams instead of ASCII85: without reportlab's optional C accelerator, encoding the
    # chart images in pure Python took over a second per report (and made the file 25% larger).
    saved_a85 = rl_config.useA85
    rl_config.useA85 = 0
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # capacity: keep the source in memory. Above it xhtml2pdf spools the document to a temp
            # file it never closes (a ResourceWarning per report, and slower).
            ctx = pisa.CreatePDF(doc, dest=out, link_callback=links, encoding="utf-8", resource_policy=policy,
                                 capacity=len(doc.encode("utf-8")) * 2 + 1_048_576)
    finally:
        rl_config.useA85 = saved_a85
        logger.removeHandler(handler)
    problems = list(handler.messages) + [f"{w.category.__name__}: {w.message}" for w in caught]
    for mode, line, msg, _frag in getattr(ctx, "log", []) or []:
        if str(mode).lower() in ("warning", "error"):
            problems.append(f"{mode} line {line}: {msg}"[:500])
    if getattr(ctx, "err", 0):
        raise RuntimeError("xhtml2pdf failed: " + "; ".join(problems[:5]))
    pdf = out.getvalue()
    return RenderResult(pdf, len(_PAGE_RE.findall(pdf)), images, tuple(dict.fromkeys(problems)), tuple(links.refused))
