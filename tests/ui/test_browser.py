"""The dashboard in a real browser: `streamlit run dashboard.py` on the simulator, driven by chromium.

Screenshots of every page go to artifacts/ (gitignored). History is seeded into the data directory's
SQLite store before start, so the backtest preview has a day of bars to count flags on.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.ui.browser_harness import ARTIFACTS, launch_chromium, start_server, stop_server
from tests.ui_factories import SYMBOLS, make_bars
from virtuoso.ingest.simulator.profiles import profile_for
from virtuoso.storage.sqlite import SqliteStore

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGES = {"overview": "/", "market": "/market", "alerts": "/alerts", "tuning": "/tuning", "reports": "/reports",
         "health": "/health"}
TITLES = {"overview": "Overview", "market": "Market", "alerts": "Alerts", "tuning": "Detection tuning",
          "reports": "Reports", "health": "Health"}
SETTLE_MS = 60_000


def _seed_history(data_dir: Path) -> None:
    """A day of recorded bars that ends where the simulator's own hour of warm-up begins."""
    data_dir.mkdir(parents=True, exist_ok=True)
    end_ms = (time.time_ns() // 60_000_000_000) * 60_000 - 61 * 60_000
    store = SqliteStore(data_dir / "virtuoso.db")
    try:
        for sym in SYMBOLS:
            p = profile_for(sym)
            store.write_bars(make_bars(sym, end_ms, start_price=p.price, start_oi=p.oi_usd / p.price))
    finally:
        store.close()


@pytest.fixture(scope="module")
def browser():
    yield from launch_chromium()


@pytest.fixture(scope="module")
def server(tmp_path_factory, browser):
    data_dir = tmp_path_factory.mktemp("dash-data")
    _seed_history(data_dir)
    proc, url = start_server(data_dir, data_dir / "streamlit.log", {"VIRTUOSO_SYMBOLS": ",".join(SYMBOLS)})
    try:
        yield url
    finally:
        stop_server(proc)


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1440, "height": 1000})
    pg = ctx.new_page()
    pg.set_default_timeout(SETTLE_MS)
    yield pg
    ctx.close()


def _open(page, url: str, name: str) -> None:
    page.goto(url + PAGES[name])
    page.get_by_role("heading", name=TITLES[name]).first.wait_for()
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"] button')"
                           " || true")  # status widget settles on its own; content waits are below


def _assert_clean(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    text = page.locator('[data-testid="stApp"]').inner_text()
    assert "Traceback" not in text and "Error:" not in text.replace("Wrong password", ""), text[:2000]


def _metric(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text()


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_opens_without_an_exception_shows_the_banner_and_is_screenshotted(server, page, name):
    _open(page, server, name)
    page.get_by_text("SIMULATED DATA").first.wait_for()
    if name == "overview":
        page.locator('[data-testid="stDataFrame"]').first.wait_for()
    if name == "market":
        page.locator(".js-plotly-plot").first.wait_for()
    if name == "health":
        page.get_by_text("Recent errors and warnings").wait_for()
    if name == "tuning":
        page.get_by_text("Preview on recorded history").wait_for()
    page.wait_for_timeout(1500)  # let the live fragment draw once more before the screenshot
    _assert_clean(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)


def test_a_live_value_changes_without_a_reload(server, page):
    _open(page, server, "overview")
    page.locator('[data-testid="stMetric"]').filter(has_text="Newest tick").first.wait_for()
    page.wait_for_function("() => /\\d\\d:\\d\\d:\\d\\d/.test(document.body.innerText)")
    first = _metric(page, "Newest tick")
    deadline = time.monotonic() + 60.0  # refreshes are due every few seconds; a loaded machine is slower
    while time.monotonic() < deadline and _metric(page, "Newest tick") == first:
        page.wait_for_timeout(100)
    assert _metric(page, "Newest tick") != first


def test_live_refresh_keeps_the_chosen_symbol_and_range(server, page):
    _open(page, server, "market")
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Symbol").click()
    page.get_by_role("option", name="SOLUSDT").click()
    page.get_by_role("radio", name="24 h").click()
    caption = page.get_by_text(re.compile("^Last event "))
    caption.wait_for()
    first = caption.inner_text()
    deadline = time.monotonic() + 60.0  # refreshes are due every few seconds; a loaded machine is slower
    while time.monotonic() < deadline and caption.inner_text() == first:
        page.wait_for_timeout(100)
    assert caption.inner_text() != first  # the panel refreshed ...
    assert page.locator('[data-testid="stSelectbox"]').filter(has_text="Symbol").locator("input").input_value() == "SOLUSDT"
    assert page.get_by_role("radio", name="24 h").get_attribute("aria-checked") == "true"  # ... the picks stayed
    _assert_clean(page)


def test_moving_a_slider_updates_the_backtest_preview(server, page):
    _open(page, server, "tuning")
    page.get_by_text("Flags with these thresholds").first.wait_for()
    before = _metric(page, "Flags with these thresholds")
    # A looser budget and a lower price floor: the seeded day's returns are about 0.08 % a minute, so
    # a larger budget alone leaves the 0.5 % minimum move binding for price moves.
    for label, key, presses in (("Watch (/day)", "ArrowRight", 60), ("Price move min", "ArrowLeft", 9)):
        thumb = page.locator('[data-testid="stSlider"]').filter(has_text=label).get_by_role("slider")
        thumb.focus()
        for _ in range(presses):  # 0.5 -> 3.5 watch events per symbol-day; 0.5 -> 0.05 %
            thumb.press(key)
    page.get_by_text(re.compile("Unapplied changes: .*price_move_min_pct")).wait_for()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _metric(page, "Flags with these thresholds") == before:
        page.wait_for_timeout(200)
    after = _metric(page, "Flags with these thresholds")
    assert int(after.replace(",", "")) > int(before.replace(",", ""))
    _assert_clean(page)
    page.screenshot(path=str(ARTIFACTS / "dashboard-tuning-moved.png"), full_page=True)


@pytest.fixture(scope="module")
def locked_server(tmp_path_factory, browser):
    data_dir = tmp_path_factory.mktemp("dash-locked")
    proc, url = start_server(data_dir, data_dir / "streamlit.log",
                             {"VIRTUOSO_SYMBOLS": "BTCUSDT", "VIRTUOSO_DASHBOARD__PASSWORD": "correct horse"})
    try:
        yield url
    finally:
        stop_server(proc)


def test_the_password_gate_guards_every_page_and_a_deep_link_opens_after_sign_in(locked_server, browser):
    # A fresh server: the first visit is a deep link, which Streamlit runs before dashboard.py ever did.
    ctx = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = ctx.new_page()
    page.set_default_timeout(SETTLE_MS)
    page.goto(locked_server + "/market")
    password = page.get_by_label("Password", exact=True)
    password.wait_for()
    assert page.get_by_text("SIMULATED DATA").count() == 0
    assert page.locator('[data-testid="stMetric"]').count() == 0
    password.fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Wrong password.").wait_for()
    page.get_by_label("Password", exact=True).fill("correct horse")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Market").wait_for()
    page.get_by_text("SIMULATED DATA").first.wait_for()
    _assert_clean(page)
    page.screenshot(path=str(ARTIFACTS / "dashboard-signed-in.png"), full_page=True)
    ctx.close()
    for path in ("/", "/alerts", "/health"):  # every other page of a new session asks too
        ctx = browser.new_context()
        page = ctx.new_page()
        page.set_default_timeout(SETTLE_MS)
        page.goto(locked_server + path)
        page.get_by_label("Password", exact=True).wait_for()
        page.wait_for_timeout(500)
        assert page.get_by_text("SIMULATED DATA").count() == 0
        assert page.locator('[data-testid="stDataFrame"]').count() == 0
        ctx.close()
