"""The produced PDF, opened with pypdf and poppler: sections, symbols, alert rows, images, watermark,
chart failure, hostile symbols against a real loopback HTTP server, no xhtml2pdf warnings, and a
first page rendered to artifacts/report-first-page.png for a person to look at."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest
from pypdf import PdfReader

from tests.report_factories import HOSTILE, NOW_MS, MemoryView, make_alert, make_bars, make_view
from virtuoso.domain.alerts import AlertKind, Severity
from virtuoso.reports.charts import ChartRequest, MatplotlibCharts
from virtuoso.reports.compose import utc
from virtuoso.reports.export import ReportResult, export_pdf
from virtuoso.reports.render import render_html

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = ("Executive summary", "Market Overview", "Institutional Activity", "Trading Outlook", "Alerts",
            "Thresholds in force", "Health summary")


def need_tool(name: str) -> str:
    """Poppler tools: under CI=true a missing one fails the test instead of skipping it."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{name} is required under CI=true (install poppler-utils)")
        pytest.skip(f"{name} is not installed")
    return path


def page_texts(path: Path) -> list[str]:
    return [p.extract_text() or "" for p in PdfReader(path).pages]


def image_count(path: Path) -> int:
    return sum(len(p.images) for p in PdfReader(path).pages)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[ReportResult, MemoryView]:
    view = make_view(("BTCUSDT", "ETHUSDT"), minutes=180, simulated=True, alerts_per_symbol=2)
    seen: list[tuple[float, str]] = []
    res = export_pdf(view, 3, None, tmp_path_factory.mktemp("sim") / "sim.pdf", lambda f, l: seen.append((f, l)))
    assert [f for f, _ in seen] == sorted(f for f, _ in seen) and seen[-1] == (1.0, "done")
    return res, view


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> ReportResult:
    view = make_view(("BTCUSDT", "SOLUSDT"), minutes=120, simulated=False)
    return export_pdf(view, 2, None, tmp_path_factory.mktemp("real") / "real.pdf")


def test_the_pdf_has_every_section_symbol_and_alert_row(simulated: tuple[ReportResult, MemoryView]) -> None:
    res, view = simulated
    text = "\n".join(page_texts(res.path))
    for section in SECTIONS:
        assert section in text
    assert "BTCUSDT" in text and "ETHUSDT" in text
    alerts = view.alerts()
    assert len(alerts) == 4
    for a in alerts:
        row = [line for line in text.splitlines() if utc(a.ts_event_ms, zone=False) in line]
        assert row, f"no alert row for {a}"
    assert all(a.kind.value in text for a in alerts)
    assert "Settings fingerprint" in text and "Data source" in text


def test_the_pdf_has_three_images_per_symbol_and_the_page_count_it_reports(
        simulated: tuple[ReportResult, MemoryView]) -> None:
    res, _ = simulated
    assert res.images == 6 and image_count(res.path) == 6
    assert res.pages == len(PdfReader(res.path).pages)
    assert res.chart_errors == ()


def test_xhtml2pdf_reports_no_warnings(simulated: tuple[ReportResult, MemoryView], real: ReportResult) -> None:
    assert simulated[0].warnings == ()
    assert real.warnings == ()


def test_the_warning_capture_does_see_xhtml2pdf_warnings() -> None:
    res = render_html("<html><head><style>table { border-collapse: collapse; }</style></head>"
                      "<body><table><tr><td>x</td></tr></table></body></html>")
    assert any("border-collapse" in w for w in res.warnings)


def test_every_page_of_a_simulated_report_says_simulated(simulated: tuple[ReportResult, MemoryView]) -> None:
    texts = page_texts(simulated[0].path)
    assert len(texts) >= 5
    assert all("SIMULATED" in t for t in texts)


def test_no_page_of_a_real_report_says_simulated(real: ReportResult) -> None:
    texts = page_texts(real.path)
    assert not any("SIMULATED" in t.upper() for t in texts)
    assert "REAL market data" in texts[0]
    assert real.simulated is False


def test_poppler_agrees_on_the_watermark(simulated: tuple[ReportResult, MemoryView], real: ReportResult) -> None:
    tool = need_tool("pdftotext")
    sim_text = subprocess.run([tool, str(simulated[0].path), "-"], check=True, capture_output=True, text=True).stdout
    real_text = subprocess.run([tool, str(real.path), "-"], check=True, capture_output=True, text=True).stdout
    pages = [p for p in sim_text.split("\f") if p.strip()]
    assert pages and all("SIMULATED" in p for p in pages)
    assert "SIMULATED" not in real_text.upper() and "BTCUSDT" in real_text


def test_the_first_page_renders_to_a_png_artifact(simulated: tuple[ReportResult, MemoryView]) -> None:
    tool = need_tool("pdftoppm")
    out = ROOT / "artifacts"
    out.mkdir(exist_ok=True)
    subprocess.run([tool, "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(simulated[0].path),
                    str(out / "report-first-page")], check=True, capture_output=True)
    png = out / "report-first-page.png"
    assert png.stat().st_size > 5_000
    assert png.read_bytes().startswith(b"\x89PNG")


def test_a_failing_chart_still_yields_a_valid_pdf_with_a_placeholder_and_an_appendix(tmp_path: Path) -> None:
    real_draw = MatplotlibCharts()

    def renderer(req: ChartRequest) -> bytes:
        if req.kind == "liquidations" and req.symbol == "ETHUSDT":
            raise RuntimeError("font cache is broken")
        return real_draw(req)

    res = export_pdf(make_view(("BTCUSDT", "ETHUSDT"), minutes=60), 1, None, tmp_path / "r.pdf",
                     chart_renderer=renderer)
    assert res.chart_errors == ("ETHUSDT Liquidations (USD): RuntimeError: font cache is broken",)
    assert res.images == 5 and image_count(res.path) == 5
    text = "\n".join(page_texts(res.path))
    assert "Chart unavailable: Liquidations (USD) for ETHUSDT" in text
    assert "Appendix: chart errors" in text and "font cache is broken" in text
    assert res.warnings == ()


class _Counter(BaseHTTPRequestHandler):
    hits: list[str]

    def do_GET(self) -> None:  # noqa: N802
        self.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def http_server() -> Iterator[tuple[int, list[str]]]:
    hits: list[str] = []
    handler = type("Handler", (_Counter,), {"hits": hits})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], hits
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_the_http_server_fixture_counts_requests(http_server: tuple[int, list[str]]) -> None:
    import urllib.request

    port, hits = http_server
    urllib.request.urlopen(f"http://127.0.0.1:{port}/probe", timeout=5).close()
    assert hits == ["/probe"]


def test_a_hostile_symbol_triggers_no_request_and_is_printed_as_text(
        http_server: tuple[int, list[str]], tmp_path: Path) -> None:
    port, hits = http_server
    evil = HOSTILE.format(port=port)
    odd = "\u5e01\u202eUSDT\x00\U0001f600"  # CJK, a bidi override, NUL and an emoji
    bars = {"BTCUSDT": make_bars("BTCUSDT", minutes=60), evil: make_bars(evil, minutes=60), odd: make_bars(odd, minutes=60)}
    alerts = [make_alert(evil, NOW_MS - 600_000, AlertKind.OI_SURGE, Severity.CRITICAL,
                         note=f'<img src="http://127.0.0.1:{port}/evidence">'), make_alert(odd)]
    view = MemoryView(bars, alerts, symbols=("BTCUSDT", evil, odd),
                      health={"source": {"name": "x", "reason": f'<img src="http://127.0.0.1:{port}/health">'}})
    res = export_pdf(view, 1, None, tmp_path / "evil.pdf")
    assert hits == []
    assert res.images == 9 and res.warnings == () and res.chart_errors == ()
    text = "\n".join(page_texts(res.path))
    assert f"127.0.0.1:{port}/x" in text  # printed, not fetched
    assert "\\u5e01\\u202eUSDT\\x00\\U0001f600" in text  # shown as escapes, not hidden or reordered


def test_raw_markup_past_escaping_still_cannot_fetch(http_server: tuple[int, list[str]]) -> None:
    port, hits = http_server
    doc = (f'<html><body><p>x</p><img src="http://127.0.0.1:{port}/img">'
           f'<img src="/etc/passwd"><img src="file:///etc/hostname"></body></html>')
    res = render_html(doc)
    assert hits == []
    assert len(res.refused_uris) >= 3
    assert any(f"127.0.0.1:{port}/img" in u for u in res.refused_uris)


def test_the_export_writes_atomically_and_replaces_an_old_file(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "r.pdf"
    export_pdf(make_view(("BTCUSDT",), minutes=30), 0.5, None, out)
    first = out.stat().st_size
    export_pdf(make_view(("BTCUSDT",), minutes=30), 0.5, ["BTCUSDT"], out)
    assert out.read_bytes().startswith(b"%PDF") and abs(out.stat().st_size - first) < first
    assert [p.name for p in out.parent.iterdir()] == ["r.pdf"]


def test_bad_hours_are_refused_before_any_work(tmp_path: Path) -> None:
    for hours in (0, -1, float("nan"), 10_000):
        with pytest.raises(ValueError, match="hours"):
            export_pdf(make_view(("BTCUSDT",), minutes=10), hours, None, tmp_path / "x.pdf")
    assert not (tmp_path / "x.pdf").exists()
