"""Where pages get the MonitorView from, and the page shell every page shares.

``dashboard.py`` is the UI's composition root: it owns the ``st.cache_resource`` engine getter and
calls :func:`install_view` on every run, which puts the engine in ``st.session_state[keys.VIEW]``
unless something is there already. That key is the test seam: AppTest tests put an in-memory
MonitorView twin (or an Engine they built on a test source) there before the first run.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import streamlit as st
from streamlit.errors import StreamlitAPIException

from virtuoso.app.view import MonitorView
from virtuoso.ui import keys


def install_view(factory: Callable[[], MonitorView]) -> MonitorView:
    """The session's view: the one already in session state (a test twin), else ``factory()``."""
    view = st.session_state.get(keys.VIEW)
    if view is None:
        view = factory()
        st.session_state[keys.VIEW] = view
    return view


def view(page: str | None = None) -> MonitorView:
    """The view installed by ``dashboard.py``; stops the page if the session is not signed in.

    Pages call this first (``runtime.view(__file__)``), so a page never renders data past the
    password gate. On a fresh server, Streamlit runs a ``pages/`` file directly for a deep link
    (its v1 multipage mode) until ``dashboard.py`` has called ``st.navigation`` once; such a
    session is sent through ``dashboard.py``, which signs it in and then opens ``page``.
    """
    v = st.session_state.get(keys.VIEW)
    if v is None:
        if page is not None:
            st.session_state[keys.DEEP_LINK] = f"pages/{Path(page).name}"
        try:
            st.switch_page("dashboard.py")
        except StreamlitAPIException:
            pass  # not started through dashboard.py at all (e.g. a page run on its own)
        st.error("Open the dashboard from its start page (streamlit run dashboard.py).")
        st.stop()
    password = getattr(getattr(getattr(v, "settings", None), "dashboard", None), "password", None)
    if password is not None and not st.session_state.get(keys.AUTHED):
        st.error("Sign in on the start page first.")
        st.stop()
    return v


def follow_deep_link() -> None:
    """After sign-in, open the page a deep link asked for before ``dashboard.py`` first ran."""
    target = st.session_state.pop(keys.DEEP_LINK, None)
    if target:
        st.switch_page(target)


def now_ms(v: MonitorView) -> int:
    """The engine's clock when it exposes one (replay and tests run on their own time), else wall time."""
    clock = getattr(v, "clock", None)
    if clock is not None:
        try:
            return int(clock.now_ms())
        except Exception:
            pass
    return time.time_ns() // 1_000_000


def refresh_s(v: MonitorView) -> float:
    """Live panel refresh interval from the settings."""
    return float(v.settings.dashboard.refresh_s)
