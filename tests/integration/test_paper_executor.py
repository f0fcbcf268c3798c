"""Paper executor against a real SQLite file: the gate, limits, exits, persistence and the outbox."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from tests.state_factories import alert
from virtuoso.alerting.outbox import Outbox
from virtuoso.app.view import SourceInfo
from virtuoso.config import TradingSettings
from virtuoso.domain.clock import ManualClock
from virtuoso.domain.trades import PaperTradeEvent, PositionSide, TradeAction
from virtuoso.state.snapshot import SymbolSnapshot
from virtuoso.trading.executor import PaperExecutor


def snap(symbol: str = "BTCUSDT", price: float = 100.0, trend_pct: float = 2.0, oi_pct: float = 0.75,
         simulated: bool = False) -> SymbolSnapshot:
    return SymbolSnapshot(symbol, 1_700_000_000_000, price, price, price, 1e4, 1e6, 0.0001, 1e4, 1e6,
                          price, price, trend_pct, 0.0, oi_pct, 100.0, 100.0, simulated)


class FakeView:
    def __init__(self, simulated: bool = False) -> None:
        self.snaps: dict[str, SymbolSnapshot] = {}
        self.scores: dict[str, float] = {}
        self.simulated = simulated

    def snapshots(self) -> dict[str, SymbolSnapshot]:
        return dict(self.snaps)

    def composite_scores(self) -> dict[str, float]:
        return dict(self.scores)

    def source_info(self) -> SourceInfo:
        return SourceInfo("test", self.simulated, "test", 0)

    def bars_1m(self, symbol: str, minutes: int) -> list[Any]:
        return []


def make(tmp_path: Path, view: FakeView, **trading: Any) -> tuple[PaperExecutor, list[PaperTradeEvent], Outbox]:
    outbox = Outbox(tmp_path / "v.db", ManualClock())
    events: list[PaperTradeEvent] = []
    ex = PaperExecutor(TradingSettings(**trading), view, outbox.conn, ManualClock(), events.append)
    return ex, events, outbox


@pytest.mark.parametrize("oi_pct, opens", [(0.75, True), (0.7498, False), (0.9, True)])
def test_entries_need_the_score_at_or_above_the_minimum(tmp_path: Path, oi_pct: float, opens: bool) -> None:
    view = FakeView()
    view.snaps["BTCUSDT"] = snap(oi_pct=oi_pct)
    view.scores["BTCUSDT"] = 100.0
    ex, events, _ = make(tmp_path, view, min_confluence_score=70.0)
    ex.step()
    assert ex.last_scores["BTCUSDT"].score == pytest.approx({0.75: 70.0, 0.7498: 69.9987, 0.9: 71.0}[oi_pct])
    assert bool(events) is opens
    if opens:
        assert events[0].action == TradeAction.OPEN and events[0].side == PositionSide.LONG
        assert events[0].notional_usd == 1000.0 and events[0].qty == pytest.approx(10.0)


def test_recent_alerts_count_as_detector_evidence_when_composite_scores_are_flat(tmp_path: Path) -> None:
    view = FakeView()
    view.snaps["BTCUSDT"] = snap()
    view.scores["BTCUSDT"] = 0.0
    ex, events, _ = make(tmp_path, view, min_confluence_score=70.0)
    ex.step()
    assert not events
    ex.on_alerts([alert(ts_ms=1_700_000_000_000 - 60_000, score=100.0)])
    ex.step()
    assert len(events) == 1


def test_max_positions_and_max_notional_cap_entries(tmp_path: Path) -> None:
    view = FakeView()
    for s in ("AAAUSDT", "BBBUSDT", "CCCUSDT", "DDDUSDT"):
        view.snaps[s] = snap(s)
        view.scores[s] = 100.0
    ex, events, _ = make(tmp_path, view, max_positions=3, max_notional_usd=2500.0, position_notional_usd=1000.0)
    ex.step()
    assert len(ex.positions()) == 2  # the notional cap bites before the position cap
    ex2, events2, _ = make(tmp_path / "b", view, max_positions=3, max_notional_usd=10_000.0)
    ex2.step()
    assert len(ex2.positions()) == 3


@pytest.mark.parametrize("price, reason", [(97.9, "stop"), (104.1, "take profit")])
def test_positions_close_on_stop_and_take_profit_with_pnl(tmp_path: Path, price: float, reason: str) -> None:
    view = FakeView()
    view.snaps["BTCUSDT"] = snap()
    view.scores["BTCUSDT"] = 100.0
    ex, events, _ = make(tmp_path, view)
    ex.step()
    view.scores["BTCUSDT"] = 0.0
    view.snaps["BTCUSDT"] = snap(price=price, trend_pct=0.1)
    ex.step()
    close = events[-1]
    assert close.action == TradeAction.CLOSE and close.reason.startswith(reason)
    assert close.pnl_usd == pytest.approx(10.0 * (price - 100.0))
    assert ex.positions() == []


def test_an_opposite_signal_closes_the_position(tmp_path: Path) -> None:
    view = FakeView()
    view.snaps["BTCUSDT"] = snap()
    view.scores["BTCUSDT"] = 100.0
    ex, events, _ = make(tmp_path, view)
    ex.step()
    view.snaps["BTCUSDT"] = snap(price=99.5, trend_pct=-2.5)
    ex.step()
    assert events[-1].action == TradeAction.CLOSE and events[-1].reason.startswith("opposite signal")
    ex.step()
    assert events[-1].action == TradeAction.OPEN and events[-1].side == PositionSide.SHORT


def test_positions_trades_and_outbox_rows_survive_a_restart(tmp_path: Path) -> None:
    view = FakeView(simulated=True)
    view.snaps["BTCUSDT"] = snap()
    view.scores["BTCUSDT"] = 100.0
    ex, events, outbox = make(tmp_path, view)
    ex.step()
    assert events[0].simulated
    outbox.close()
    ex2, events2, outbox2 = make(tmp_path, view)
    assert [p.symbol for p in ex2.positions()] == ["BTCUSDT"]
    ex2.step()
    assert events2 == []  # already holding BTCUSDT: no second entry
    outbox2.register_sink("probe")
    n = outbox2.conn.execute("SELECT COUNT(*) FROM outbox WHERE kind = 'trade'").fetchone()[0]
    assert n == 1
    rows = outbox2.conn.execute("SELECT action, simulated FROM paper_trades").fetchall()
    assert rows == [("open", 1)]


def test_a_symbol_without_a_price_is_skipped(tmp_path: Path) -> None:
    view = FakeView()
    view.snaps["BTCUSDT"] = dataclasses.replace(snap(), last_price=float("nan"))
    view.scores["BTCUSDT"] = 100.0
    ex, events, _ = make(tmp_path, view)
    assert ex.step() == []
