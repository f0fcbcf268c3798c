"""Fixtures for dashboard tests: an AppTest of dashboard.py with a MonitorView twin installed."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
from streamlit.testing.v1 import AppTest

from tests.ui_factories import FakeView, ui_settings
from virtuoso.ui import keys

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["pages/scanner.py", "pages/market.py", "pages/alerts.py", "pages/tuning.py", "pages/reports.py", "pages/health.py"]


@pytest.fixture
def view(tmp_path: Path) -> FakeView:
    return FakeView(ui_settings(tmp_path))


@pytest.fixture
def app() -> Callable[..., AppTest]:
    """``app(view, page=None)``: dashboard.py run once with ``view`` installed (and switched to ``page``)."""

    def make(view: Any, page: str | None = None) -> AppTest:
        at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
        at.session_state[keys.VIEW] = view
        at.run()
        if page is not None:
            at.switch_page(page).run()
        return at

    return make
