"""The Scanner page (AppTest): every symbol worst first, sort, filter, search, open a symbol."""

from __future__ import annotations

import math

from tests.ui_factories import FakeView, ui_settings
from virtuoso.app.scanner import scanner_row
from virtuoso.domain.alerts import Change
from virtuoso.ui import keys

SCANNER = "pages/scanner.py"


def _table(at):
    return at.dataframe[0].value


def test_every_symbol_worst_first_with_the_scanner_columns(app, view):
    at = app(view, SCANNER)
    assert not at.exception and not at.error
    df = _table(at)
    assert set(df["Symbol"]) == set(view.symbols())
    assert {"Price 5 m %", "Price 1 h %", "OI 5 m %", "OI 1 h %", "Funding %", "Volume vs usual (x)",
            "Liquidations 15 m (USD)", "Score", "Open events", "Worst open"} <= set(df.columns)
    # the high open event first, then the watch one; the rest by score
    assert list(df["Symbol"])[:2] == ["SOLUSDT", "ETHUSDT"] and list(df["Worst open"])[:2] == ["high", "watch"]


def test_sort_filter_and_search(app, view):
    at = app(view, SCANNER)
    at.selectbox(key=keys.SCANNER_SORT).set_value("score").run()
    scores = list(_table(at)["Score"])
    assert scores == sorted(scores, reverse=True)
    at.toggle(key=keys.SCANNER_ASCENDING).set_value(True).run()
    assert list(_table(at)["Score"]) == sorted(scores)
    at.toggle(key=keys.SCANNER_ASCENDING).set_value(False).run()
    at.selectbox(key=keys.SCANNER_SORT).set_value("oi_chg_1h_pct").run()
    moves = [abs(x) for x in _table(at)["OI 1 h %"] if not math.isnan(x)]
    assert moves == sorted(moves, reverse=True)
    at.toggle(key=keys.SCANNER_ONLY_OPEN).set_value(True).run()
    assert (_table(at)["Open events"] > 0).all() and set(_table(at)["Symbol"]) == {"SOLUSDT", "ETHUSDT"}
    at.toggle(key=keys.SCANNER_ONLY_OPEN).set_value(False).run()
    at.number_input(key=keys.SCANNER_MIN_SCORE).set_value(40.0).run()
    assert set(_table(at)["Symbol"]) == {"ETHUSDT", "SOLUSDT"}
    at.number_input(key=keys.SCANNER_MIN_SCORE).set_value(0.0).run()
    at.text_input(key=keys.SCANNER_SEARCH).input("sol").run()
    assert list(_table(at)["Symbol"]) == ["SOLUSDT"]
    assert not at.exception and not at.error


def test_opening_a_symbol_goes_to_its_market_page(app, view):
    at = app(view, SCANNER)
    at.selectbox(key=keys.SCANNER_OPEN_SYMBOL).set_value("ETHUSDT").run()
    at.button(key=keys.SCANNER_OPEN_BUTTON).click().run()
    assert not at.exception and not at.error
    assert at.session_state[keys.MARKET_SYMBOL] == "ETHUSDT"
    assert at.selectbox(key=keys.MARKET_SYMBOL).value == "ETHUSDT"
    assert any(t.value == "Market" for t in at.title)


def test_a_row_reads_its_windows_from_closed_minutes_and_an_ended_event_is_not_open(tmp_path):
    v = FakeView(ui_settings(tmp_path))
    bars = v.bars_1m("BTCUSDT", 61)
    row = scanner_row("BTCUSDT", v.snapshots()["BTCUSDT"], bars, 12.0, [])
    assert math.isclose(row.chg_5m_pct, (bars[-1].close / bars[-6].close - 1) * 100)
    assert math.isclose(row.oi_chg_1h_pct, (bars[-1].open_interest / bars[-61].open_interest - 1) * 100)
    ended = [a.__class__(**{**{f: getattr(a, f) for f in a.__dataclass_fields__}, "change": Change.ENDED,
                            "ts_event_ms": a.ts_event_ms + 1}) for a in v.alerts_list]
    v.alerts_list = v.alerts_list + ended
    assert all(r.open_events == 0 for r in v.scanner_rows())
