"""A new user's tour in a real browser, on a fresh data directory: every page at desktop and phone
width (screenshots to artifacts/screenshots/), a click on a watchlist row, the PDF's pages as
images, and a failed relay bind shown on every page and printed on the server's terminal.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from tests.ui.browser_harness import ARTIFACTS, launch_chromium, need, start_server, stop_server
from tests.ui_factories import SYMBOLS, FakeView, ui_settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = ARTIFACTS / "screenshots"
PAGES = {"overview": "/", "market": "/market", "alerts": "/alerts", "tuning": "/tuning", "reports": "/reports",
         "health": "/health"}
TITLES = {"overview": "Overview", "market": "Market", "alerts": "Alerts", "tuning": "Detection tuning",
          "reports": "Reports", "health": "Health"}
WIDTHS = {"desktop": 1440, "phone": 390}
BAD_TEXT = re.compile(r"\b(None|nan|NaN|Traceback)\b")
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def browser():
    yield from launch_chromium()


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory, browser):
    data_dir = tmp_path_factory.mktemp("tour") / "data"  # does not exist yet: a brand-new install
    proc, url = start_server(data_dir, data_dir.parent / "streamlit.log", {"VIRTUOSO_SYMBOLS": ",".join(SYMBOLS)})
    try:
        yield url
    finally:
        stop_server(proc)


def _open(browser, url: str, width: int):
    ctx = browser.new_context(viewport={"width": width, "height": 1000})
    page = ctx.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    return ctx, page


def _settled(page, name: str) -> None:
    page.get_by_role("heading", name=TITLES[name]).first.wait_for()
    page.get_by_text("SIMULATED DATA").first.wait_for()
    if name in ("overview", "alerts"):
        page.locator('[data-testid="stDataFrame"], [data-testid="stAlert"]').first.wait_for()
    if name == "market":
        page.locator(".js-plotly-plot").first.wait_for()
    if name == "tuning":
        page.get_by_text("Flags with these thresholds").first.wait_for()
    page.wait_for_timeout(2_000)  # one more live refresh before reading and the screenshot


def _assert_readable(page, where: str) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, where
    text = page.locator('[data-testid="stApp"]').inner_text()
    found = BAD_TEXT.search(text)
    assert not found, (where, text[max(0, found.start() - 200): found.end() + 200] if found else "")


@pytest.mark.parametrize("device", list(WIDTHS))
@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_reads_cleanly_at_desktop_and_phone_width_and_is_screenshotted(fresh_server, browser, name, device):
    ctx, page = _open(browser, fresh_server + PAGES[name], WIDTHS[device])
    try:
        _settled(page, name)
        _assert_readable(page, f"{name} at {WIDTHS[device]} px")
        assert "Virtuoso" in page.title()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}-{WIDTHS[device]}.png"), full_page=True)
    finally:
        ctx.close()


def test_a_click_on_a_watchlist_row_opens_the_market_page_at_that_symbol(fresh_server, browser):
    ctx, page = _open(browser, fresh_server + "/", 1440)
    try:
        _settled(page, "overview")
        grid = page.locator('[data-testid="stDataFrame"]').first
        box = grid.bounding_box()
        assert box is not None
        # The grid draws on a canvas: click the first row's selection cell (left edge, below the header).
        page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)
        page.get_by_role("heading", name="Market").wait_for()
        page.wait_for_url(re.compile(r"/market\?symbol=[A-Z]+USDT"))
        symbol = re.search(r"symbol=([A-Z]+USDT)", page.url).group(1)
        picker = page.locator('[data-testid="stSelectbox"]').filter(has_text="Symbol").locator("input")
        assert picker.input_value() == symbol
        _assert_readable(page, "market after a click")
    finally:
        ctx.close()


def test_the_pdf_pages_are_rendered_to_images(tmp_path):
    need(shutil.which("pdftoppm") is not None, "pdftoppm (poppler-utils) is not installed")
    from virtuoso.reports.export import export_pdf

    view = FakeView(ui_settings(tmp_path))
    result = export_pdf(view, 24, list(SYMBOLS), tmp_path / "report.pdf")
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("report-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(result.path), str(SHOTS / "report")], check=True, timeout=120)
    assert len(list(SHOTS.glob("report-*.png"))) == result.pages


def test_a_relay_port_already_taken_is_shown_on_every_page_and_printed_on_the_terminal(tmp_path, browser):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        log = tmp_path / "terminal.log"
        proc, url = start_server(tmp_path / "data", log, {"VIRTUOSO_SYMBOLS": "BTCUSDT", "VIRTUOSO_RELAY__PORT": str(port)})
        try:
            for name in PAGES:
                ctx, page = _open(browser, url + PAGES[name], 1440)
                try:
                    page.get_by_role("heading", name=TITLES[name]).first.wait_for()
                    page.get_by_text(re.compile(rf"Relay: cannot listen on 127\.0\.0\.1:{port}")).first.wait_for()
                finally:
                    ctx.close()
        finally:
            stop_server(proc)
        printed = Path(log).read_text(errors="replace")
        assert re.search(rf"ERROR\s+virtuoso\S*: relay: cannot listen on 127\.0\.0\.1:{port}", printed), printed[-3000:]
