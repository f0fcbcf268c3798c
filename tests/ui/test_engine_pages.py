"""AppTest tests of the dashboard on the real Engine (parser, market state, SQLite store, health)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.ui.conftest import PAGES
from tests.ui_factories import SYMBOLS, TickSource, ui_settings
from virtuoso.app.engine import Engine
from virtuoso.ui import keys


@pytest.fixture
def engine(tmp_path: Path):
    eng = Engine(ui_settings(tmp_path), source=TickSource()).start()
    try:
        assert eng.wait_until(lambda e: len(e.snapshots()) == len(SYMBOLS), timeout_s=20)
        yield eng
    finally:
        eng.stop()


def test_every_page_renders_on_the_real_engine(app, engine):
    at = app(engine)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert set(at.dataframe[0].value["symbol"]) == set(SYMBOLS)
    assert any("SIMULATED" in w.value for w in at.warning)
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert not at.error, (page, [e.value for e in at.error])


def test_overview_prices_follow_the_live_feed(app, engine):
    at = app(engine)
    before = at.dataframe[0].value.set_index("symbol")["price"].to_dict()
    assert engine.wait_until(lambda e: any(s.last_price != before[k] for k, s in e.snapshots().items()), timeout_s=5)
    time.sleep(0.6)  # past the readers' half-second cache shared by all tabs
    at.run()
    after = at.dataframe[0].value.set_index("symbol")["price"].to_dict()
    assert after != before


def test_apply_changes_the_running_engines_thresholds_and_persists_them(app, engine):
    at = app(engine, "pages/tuning.py")
    at.slider(key=keys.tune_key("oi_min_pct")).set_value(7.5).run()
    at.button(key=keys.TUNE_APPLY).click().run()
    assert not at.exception
    assert engine.thresholds().oi_min_pct == 7.5
    saved = json.loads((Path(engine.settings.data_dir) / "thresholds.json").read_text())
    assert saved["oi_min_pct"] == 7.5


def test_the_dashboard_getter_starts_one_engine_on_the_simulator_for_every_session(tmp_path, monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from tests.ui.conftest import ROOT

    monkeypatch.chdir(tmp_path)  # no .env from the working tree
    for k, v in {"VIRTUOSO_DATA_DIR": str(tmp_path / "data"), "VIRTUOSO_SOURCE": "simulator",
                 "VIRTUOSO_RELAY__PORT": "0", "VIRTUOSO_SYMBOLS": "BTCUSDT,ETHUSDT"}.items():
        monkeypatch.setenv(k, v)
    st.cache_resource.clear()
    try:
        tabs = [AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120).run() for _ in range(2)]
        engines = [at.session_state[keys.VIEW] for at in tabs]
        assert engines[0] is engines[1] and isinstance(engines[0], Engine)
        assert len(engines[0].ingestion_threads()) == 1
        assert engines[0].source_info().name == "simulator" and engines[0].source_info().simulated
        for at in tabs:
            assert not at.exception and not at.error, [e.value for e in at.error]
            assert any("SIMULATED" in w.value for w in at.warning)
    finally:
        st.cache_resource.clear()  # on_release stops the engine
    assert not engines[0].running
