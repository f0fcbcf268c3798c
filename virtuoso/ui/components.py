"""Small Streamlit pieces shared by pages: the SIMULATED banner, one-line errors, page header,
new-alert announcements (toast and the count in the tab title) and the drill-down to a symbol."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import streamlit as st

from virtuoso.app.view import MonitorView
from virtuoso.domain.alerts import Alert, Severity
from virtuoso.ui import fmt, keys, readers, runtime

log = logging.getLogger("virtuoso.ui")

# The browser tab's icon, shipped in the package: Streamlit's frontend turns a ``:material/...:``
# page icon into an SVG fetched from fonts.gstatic.com, and a local tool makes no outside request.
APP_ICON = Path(__file__).resolve().parent / "assets" / "icon.png"
# Navigation icons are plain emoji: no ``:material/...:`` name anywhere, so no page can reach the
# font CDN through an icon (tests/ui/test_local_assets.py keeps it so).
NAV_ICONS = {"overview": "🏠", "scanner": "📡", "market": "📈", "alerts": "🔔", "tuning": "🎚️", "reports": "📄", "health": "🩺"}


@contextmanager
def guarded(what: str) -> Iterator[None]:
    """Run a panel; if it fails, show one readable line instead of a traceback (logged server-side)."""
    try:
        yield
    except Exception as exc:
        log.warning("dashboard: %s failed: %s", what, exc, exc_info=True)
        st.error(f"{what} failed: {fmt.one_line(f'{type(exc).__name__}: {exc}')}")


def safe(what: str, fn: Callable[..., Any]) -> Callable[..., None]:
    """Wrap a widget callback: a failure becomes one line shown at the top of the page, not a traceback."""

    def run(*args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except Exception as exc:
            log.warning("dashboard: %s failed: %s", what, exc, exc_info=True)
            st.session_state[keys.CALLBACK_ERROR] = f"{what} failed: {fmt.one_line(f'{type(exc).__name__}: {exc}')}"

    return run


def simulated_banner(view: MonitorView) -> None:
    """A warning on every page whenever the data is simulated, with the reason; nothing on real data."""
    try:
        info = view.source_info()
    except Exception as exc:
        st.error(f"source unknown: {fmt.one_line(exc)}")
        return
    if info.simulated:
        st.warning(f"**SIMULATED DATA** — {fmt.md_escape(fmt.one_line(info.reason))}", icon="⚠️")


ANNOUNCE_WINDOW_MS = 3_600_000  # events of the last hour count in the title and may be announced
ANNOUNCE_MIN_RANK = Severity.WATCH.rank
TOAST_ICONS = {"watch": "🟡", "high": "🟠", "critical": "🔴"}


def _announceable(view: MonitorView, alerts: list[Alert]) -> list[Alert]:
    """Events at watch or above that happened live (warm-up history is history, never news)."""
    live_from = getattr(view, "live_from_ms", None)
    start = live_from() if callable(live_from) else None
    return [a for a in alerts if a.severity.rank >= ANNOUNCE_MIN_RANK and (start is None or a.ts_event_ms >= start)]


def announcements(view: MonitorView, title: str) -> None:
    """Toast each new event at watch or above, and put the count of unacknowledged ones in the tab title.

    The first run of a session only takes note of what is there already: a toast means new.
    """
    now = runtime.now_ms(view)
    events = _announceable(view, readers.alerts(view, now - ANNOUNCE_WINDOW_MS, now))
    seen: dict[str, str] | None = st.session_state.get(keys.ANNOUNCED)
    if seen is None:
        st.session_state[keys.ANNOUNCED] = {a.id: a.severity.value for a in events}
    else:
        for a in events:
            before = seen.get(a.id)
            if before is None or a.severity.rank > Severity(before).rank:  # new, or escalated
                st.toast(f"**{fmt.md_escape(a.symbol)}** {a.kind.value.replace('_', ' ')} · {a.severity.value}"
                         f" · {fmt.utc(a.ts_event_ms)[11:16]} UTC", icon=TOAST_ICONS.get(a.severity.value))
            seen[a.id] = a.severity.value
    acked = readers.acknowledged(view, now) if hasattr(view, "acknowledged") else frozenset()
    unseen = len({a.id for a in events} - acked)
    st.set_page_config(page_title=f"({unseen}) {title} · Virtuoso" if unseen else f"{title} · Virtuoso")


def problem_banner(view: MonitorView) -> None:
    """An error line on every page for whatever health says is broken (relay bind, data directory)."""
    from virtuoso.ui.tables import health_problems

    for problem in health_problems(readers.health(view, runtime.now_ms(view))):
        st.error(f"**Problem:** {fmt.md_escape(fmt.one_line(problem))}", icon="🚨")


def _announce_panel(view: MonitorView, title: str) -> None:
    try:
        problem_banner(view)
    except Exception as exc:  # the banner must never break a page
        log.warning("dashboard: reading health for the banner failed: %s", exc, exc_info=True)
    try:
        announcements(view, title)
    except Exception as exc:  # announcing must never break a page
        log.warning("dashboard: announcing new alerts failed: %s", exc, exc_info=True)


def open_market(symbol: str, start_ms: int | None = None, end_ms: int | None = None) -> None:
    """Drill down: the Market page at ``symbol`` (and the event's window, highlighted)."""
    st.session_state[keys.MARKET_SYMBOL] = symbol
    st.session_state[keys.MARKET_FOCUS] = (symbol, start_ms, end_ms) if start_ms else None
    params = {keys.QUERY_SYMBOL: symbol}
    if start_ms:
        params.update({keys.QUERY_FROM: str(int(start_ms)), keys.QUERY_TO: str(int(end_ms or start_ms))})
    st.switch_page("pages/market.py", query_params=params)


def selected_row(event: Any) -> int | None:
    """The row index an ``st.dataframe(on_select=...)`` selection points at, if exactly one."""
    selection = event.get("selection") if isinstance(event, dict) else getattr(event, "selection", None)
    rows = selection.get("rows") if isinstance(selection, dict) else getattr(selection, "rows", None)
    rows = list(rows or [])
    return int(rows[0]) if len(rows) == 1 else None


def remember_pick(table_key: str, targets: list[Any]) -> None:
    """``on_select`` callback: note which row was clicked; the page opens it after the callback
    (``st.switch_page`` cannot run inside a callback)."""
    row = selected_row(st.session_state.get(table_key))
    st.session_state[table_key + ".pick"] = targets[row] if row is not None and row < len(targets) else None


def picker(table_key: str, targets: list[Any]) -> Callable[[], None]:
    """The ``on_select`` callback of a table whose rows open the Market page (``targets[row]``)."""
    return lambda: remember_pick(table_key, targets)


PICKED_TABLES = (keys.OVERVIEW_TABLE, keys.ALERTS_TABLE)


def follow_pick(table_key: str) -> None:
    """Inside a live fragment: after a row click, rerun the whole page, which then opens the Market
    page (``st.switch_page`` from a fragment's rerun left the browser on a blank page)."""
    if st.session_state.get(table_key + ".pick"):
        st.rerun(scope="app")


def open_picked() -> None:
    """On a full run: open the Market page at the row a user clicked, if any (see :func:`remember_pick`)."""
    for table_key in PICKED_TABLES:
        target = st.session_state.pop(table_key + ".pick", None)
        if target:
            open_market(*target)


def header(view: MonitorView, title: str, caption: str = "") -> None:
    """Page title, SIMULATED banner, new-alert announcements and an optional caption."""
    open_picked()
    st.title(title)
    simulated_banner(view)
    st.fragment(_announce_panel, run_every=float(view.settings.dashboard.refresh_s))(view, title)
    failed = st.session_state.pop(keys.CALLBACK_ERROR, None)
    if failed:
        st.error(failed)
    if caption:
        st.caption(caption)


def live(panel: Callable[..., None], view: MonitorView, *args: Any) -> None:
    """Run ``panel(view, *args)`` as a fragment that reruns itself every ``dashboard.refresh_s``.

    Only the panel reruns (``st.fragment(run_every=...)``): widgets outside it keep their state and
    the page does not reload. This replaces streamlit-autorefresh, which reruns the whole script.
    """
    st.fragment(panel, run_every=float(view.settings.dashboard.refresh_s))(view, *args)
