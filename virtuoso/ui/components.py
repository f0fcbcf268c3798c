"""Small Streamlit pieces shared by pages: the SIMULATED banner, one-line errors, page header."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import streamlit as st

from virtuoso.app.view import MonitorView
from virtuoso.ui import fmt, keys

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


def header(view: MonitorView, title: str, caption: str = "") -> None:
    """Page title, SIMULATED banner and an optional caption."""
    st.title(title)
    simulated_banner(view)
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
