"""The optional password gate and start-up errors: one readable line, never a page past the gate."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr
from streamlit.testing.v1 import AppTest

from tests.ui.conftest import PAGES, ROOT
from tests.ui_factories import FakeView, ui_settings
from virtuoso.ui import keys
from virtuoso.ui.auth import password_ok


def test_password_check_accepts_only_the_exact_password():
    secret = SecretStr("s3cret-ü")
    assert password_ok(secret, "s3cret-ü")
    assert not password_ok(secret, "s3cret")
    assert not password_ok(secret, "")
    assert not password_ok(secret, None)
    assert password_ok(None, "")  # no password configured: open


@pytest.fixture
def locked(tmp_path: Path) -> FakeView:
    return FakeView(ui_settings(tmp_path, VIRTUOSO_DASHBOARD__PASSWORD="hunter2"))


def test_with_a_password_set_the_dashboard_shows_only_the_sign_in_form(app, locked):
    at = app(locked)
    assert not at.exception
    assert at.text_input(key=keys.PASSWORD)
    assert not at.dataframe and not at.metric
    assert not any("SIMULATED" in w.value for w in at.warning)  # nothing about the data either


def test_a_wrong_password_is_refused_and_the_right_one_opens_every_page(app, locked):
    at = app(locked)
    at.text_input(key=keys.PASSWORD).input("wrong")
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["Wrong password."]
    assert not at.dataframe
    at.text_input(key=keys.PASSWORD).input("hunter2")
    at.button[0].click().run()
    assert not at.exception
    assert at.dataframe  # the overview watchlist
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception and not any(t.key == keys.PASSWORD for t in at.text_input)  # no second prompt


def test_a_page_script_run_past_the_gate_stops_before_showing_data(locked):
    at = AppTest.from_file(str(ROOT / "pages" / "market.py"), default_timeout=60)
    at.session_state[keys.VIEW] = locked
    at.run()
    assert not at.exception
    assert not at.get("plotly_chart") and not at.metric
    assert at.error


def test_a_bad_setting_shows_one_line_naming_the_variable(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no .env from the working tree
    monkeypatch.setenv("VIRTUOSO_SOURCE", "carrier-pigeon")
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60).run()
    assert not at.exception
    [err] = at.error
    assert err.value.startswith("Settings: ") and "VIRTUOSO_SOURCE" in err.value and "\n" not in err.value
