"""Every page on a fresh data directory, in the first minute: no error, no traceback, no literal
"None" or "nan", and each figure that needs more history says how much more.

The real Engine runs on a source with no history at all (a brand-new install), and the twin
covers the first few minutes of history (the tuning preview's "needs N more minutes").
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.ui.conftest import PAGES
from tests.ui_factories import SYMBOLS, FakeView, TickSource, ui_settings
from virtuoso.app.engine import Engine
from virtuoso.ui import tuning

BAD_WORDS = re.compile(r"\b(None|nan|NaN|Traceback|inf)\b")
TEXT_ELEMENTS = ("title", "header", "subheader", "markdown", "caption", "info", "warning", "success", "error",
                 "text", "exception")


def table_display(df) -> str:
    """The display text of a table shown through a pandas Styler (what the grid draws)."""
    if not df.proto.arrow_data.HasField("styler"):
        return ""
    return df.proto.arrow_data.styler.display_values.decode("utf-8", "replace")


def page_text(at) -> list[str]:
    """Everything a reader sees as text on the page: messages, captions, metric values and deltas,
    and the display text of every table (a Styler's formatted cells included)."""
    out: list[str] = []
    for kind in TEXT_ELEMENTS:
        out += [str(el.value) for el in at.get(kind)]
    for m in at.metric:
        out += [m.label, str(m.value), str(m.proto.delta or "")]
    for df in at.dataframe:
        shown = table_display(df)
        if shown:  # a Styler's text is what the grid draws
            out.append(shown)
        else:
            out += [str(v) for v in df.value.astype(str).to_numpy().ravel()]
    return out


def grid_nulls(at) -> list[str]:
    """Columns of a shown table with a missing cell and no placeholder: the browser's grid draws
    those as "None" whatever a Styler says (AppTest does not show it; the browser did)."""
    out = []
    for df in at.dataframe:
        if df.proto.placeholder:
            continue
        frame = df.value
        out += [str(c) for c in frame.columns if frame[c].map(lambda v: v is None or v != v).any()]
    return out


def assert_clean(at, where: str) -> None:
    assert not at.exception, (where, [e.value for e in at.exception])
    assert not at.error, (where, [e.value for e in at.error])
    assert not grid_nulls(at), (where, grid_nulls(at))
    for text in page_text(at):
        assert not BAD_WORDS.search(text), (where, text[:400])


@pytest.fixture
def fresh_engine(tmp_path: Path):
    data_dir = tmp_path / "fresh"
    assert not data_dir.exists()
    eng = Engine(ui_settings(data_dir), source=TickSource()).start()
    try:
        assert eng.wait_until(lambda e: len(e.snapshots()) == len(SYMBOLS), timeout_s=20)
        yield eng
    finally:
        eng.stop()


def test_every_page_is_clean_in_the_first_minute_of_a_fresh_data_directory(app, fresh_engine):
    at = app(fresh_engine)
    assert_clean(at, "overview")
    for page in PAGES:
        at.switch_page(page).run()
        assert_clean(at, page)


def test_overview_says_how_much_more_history_each_empty_figure_needs(app, fresh_engine):
    at = app(fresh_engine)
    captions = " ".join(c.value for c in at.caption)
    assert "24 h change: after 24 h of history (" in captions and "more)" in captions
    assert "1 h change: after 1 h of history" in captions
    cells = table_display(at.dataframe[0])
    assert "after 24 h" in cells and "after 1 h" in cells  # the cells say it too, not an empty or "None" cell


def test_market_metrics_show_no_delta_badge_without_a_delta(app, fresh_engine):
    at = app(fresh_engine, "pages/market.py")
    price = next(m for m in at.metric if m.label.startswith("Last price"))
    assert not price.proto.delta  # no green "up" badge on an empty 1 h change
    assert any("24 h change: after 24 h of history" in c.value for c in at.caption)


def test_tuning_preview_shows_a_count_and_says_how_many_more_minutes_it_needs(app, tmp_path):
    view = FakeView(ui_settings(tmp_path), history_minutes=4)
    at = app(view, "pages/tuning.py")
    assert_clean(at, "tuning")
    counts = {m.label: m.value for m in at.metric}
    assert counts["Flags with these thresholds"].isdigit()
    need = tuning.preview_minutes_needed()
    info = " ".join(i.value for i in at.info)
    assert f"once it has {need} minutes" in info and f"needs {need - 4} more minutes" in info


def test_tuning_preview_counts_from_the_first_graded_minutes(app, tmp_path):
    view = FakeView(ui_settings(tmp_path), history_minutes=tuning.preview_minutes_needed() + 30)
    at = app(view, "pages/tuning.py")
    assert_clean(at, "tuning")
    assert not any("more minutes" in i.value for i in at.info)
    assert at.metric[0].value.isdigit()


def test_a_deleted_data_directory_shows_an_error_banner_on_every_page(app, fresh_engine):
    import shutil

    shutil.rmtree(fresh_engine.settings.data_dir)
    at = app(fresh_engine)
    for page in [None, *PAGES]:
        if page is not None:
            at.switch_page(page).run()
        banners = [e.value for e in at.error]
        assert any("was deleted" in b and "nothing written from now on will be kept" in b for b in banners), (page, banners)
        assert not at.exception


def test_a_relay_that_could_not_bind_shows_an_error_banner_on_every_page(app, tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        eng = Engine(ui_settings(tmp_path / "relay", VIRTUOSO_RELAY__PORT=str(port)), source=TickSource()).start()
        try:
            assert eng.wait_until(lambda e: (e.health()["sinks"].get("relay") or {}).get("state") == "error", timeout_s=20)
            at = app(eng)
            for page in [None, *PAGES]:
                if page is not None:
                    at.switch_page(page).run()
                assert any("Relay: cannot listen on 127.0.0.1" in e.value.replace("\\", "") for e in at.error), page
        finally:
            eng.stop()
