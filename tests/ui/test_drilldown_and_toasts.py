"""Drill-down into the Market page and announcements of new alerts (AppTest on the twin).

A click on a table row (``st.dataframe`` selection) is recorded by the table's ``on_select``
callback; clicking itself needs a browser (tests/ui/test_browser.py). Here the recorded pick is
set directly, and what follows is checked: the Market page at that symbol, the URL carrying the
symbol and the event's window, the range wide enough to show it.
"""

from __future__ import annotations

from tests.ui_factories import T0_MS, make_alert
from virtuoso.domain.alerts import AlertKind, Severity
from virtuoso.ui import components, keys


def test_a_picked_watchlist_row_opens_the_market_page_at_that_symbol(app, view):
    at = app(view)
    at.session_state[keys.OVERVIEW_TABLE + ".pick"] = ("ETHUSDT",)
    at.run()
    assert not at.exception and not at.error
    assert at.title[0].value == "Market"
    assert at.selectbox(key=keys.MARKET_SYMBOL).value == "ETHUSDT"
    assert at.query_params.get(keys.QUERY_SYMBOL) in ("ETHUSDT", ["ETHUSDT"])


def test_a_picked_alert_row_opens_the_market_page_at_its_symbol_with_the_window_shaded(app, view):
    alert = view.alerts_list[0]  # SOLUSDT, an hour before now
    at = app(view, "pages/alerts.py")
    at.session_state[keys.ALERTS_TABLE + ".pick"] = (alert.symbol, alert.ts_event_ms - 300_000, alert.ts_event_ms)
    at.run()
    assert not at.exception and not at.error
    assert at.title[0].value == "Market" and at.selectbox(key=keys.MARKET_SYMBOL).value == "SOLUSDT"
    assert any(c.value.startswith("Shaded: the event's window") for c in at.caption)
    spec = at.get("plotly_chart")[0].proto.spec
    assert '"type":"rect"' in spec.replace(" ", "")  # the window drawn on the chart


def test_a_market_link_with_a_symbol_opens_that_symbol(app, view):
    at = app(view)
    at.query_params[keys.QUERY_SYMBOL] = "SOLUSDT"
    at.switch_page("pages/market.py").run()
    assert at.selectbox(key=keys.MARKET_SYMBOL).value == "SOLUSDT"


def test_a_new_event_at_watch_or_above_raises_a_toast_on_any_page_once(app, view):
    at = app(view, "pages/health.py")
    assert not at.toast  # what was there when the session opened is not news
    view.alerts_list.append(make_alert("BTCUSDT", AlertKind.PRICE_MOVE, Severity.HIGH, T0_MS + 500, 77.0))
    view.tick(2)
    at.run()
    toasts = [t.value for t in at.toast]
    assert len(toasts) == 1 and "BTCUSDT" in toasts[0] and "price move" in toasts[0] and "high" in toasts[0]
    view.tick(2)
    at.run()
    assert not at.toast  # announced once


def test_info_events_and_warm_up_history_are_not_announced(app, view):
    at = app(view)
    view.live_from_ms = lambda: T0_MS + 1_000
    view.alerts_list.append(make_alert("BTCUSDT", AlertKind.PRICE_MOVE, Severity.INFO, T0_MS + 1_500, 20.0))
    view.alerts_list.append(make_alert("ETHUSDT", AlertKind.OI_SURGE, Severity.CRITICAL, T0_MS + 500, 95.0))  # warm-up
    view.tick(2)
    at.run()
    assert not at.toast


def test_the_tab_title_counts_unacknowledged_events_of_the_last_hour(view):
    now = view.clock.now_ms()
    events = components._announceable(view, view.alerts(now - components.ANNOUNCE_WINDOW_MS))
    assert {a.symbol for a in events} == {"SOLUSDT", "<b>EVIL</b>"}  # the watch event is two hours old
