"""Paper trade executor: opens and closes simulated positions from the confluence score.

Once a second (on the delivery thread) :meth:`PaperExecutor.step` scores every watched symbol
(:mod:`virtuoso.trading.confluence`) and:

- opens a position in the trend's direction when the score meets ``min_confluence_score``, the
  symbol has no position, fewer than ``max_positions`` are open and total notional stays within
  ``max_notional_usd`` (each position is ``position_notional_usd``);
- closes on the stop (``stop_pct`` against the entry), the take-profit (``take_profit_pct``), or
  an opposite signal (a qualifying score in the other direction).

Each open and close is committed in one transaction with its outbox row (so Discord and the relay
get it even after a crash) and then published on the bus. Positions live in ``paper_positions``
and survive restarts; every fill is in ``paper_trades``. No order is ever sent to an exchange.
"""

from __future__ import annotations

import hashlib
import logging
import math
import sqlite3
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from virtuoso.alerting.outbox import insert, trade_item
from virtuoso.config import TradingSettings
from virtuoso.domain.alerts import Alert
from virtuoso.domain.clock import Clock
from virtuoso.domain.trades import PaperTradeEvent, PositionSide, TradeAction
from virtuoso.trading.confluence import Confluence, ConfluenceInputs, confluence, meets_entry_gate

log = logging.getLogger(__name__)

ALERT_MEMORY_MS = 15 * 60_000
_ALERTS_KEPT = 2_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS paper_positions (
    symbol TEXT PRIMARY KEY, side TEXT NOT NULL, qty REAL NOT NULL, entry_price REAL NOT NULL,
    notional_usd REAL NOT NULL, confluence_score REAL NOT NULL, opened_ms INTEGER NOT NULL, open_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS paper_trades (
    id TEXT PRIMARY KEY, symbol TEXT NOT NULL, action TEXT NOT NULL, side TEXT NOT NULL, qty REAL NOT NULL,
    price REAL NOT NULL, notional_usd REAL NOT NULL, confluence_score REAL NOT NULL, reason TEXT NOT NULL,
    pnl_usd REAL NOT NULL, ts_event_ms INTEGER NOT NULL, simulated INTEGER NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Position:
    symbol: str
    side: PositionSide
    qty: float
    entry_price: float
    notional_usd: float
    confluence_score: float
    opened_ms: int
    open_id: str


def _trade_id(symbol: str, action: str, ts_ms: int, side: str) -> str:
    return hashlib.blake2b(f"{symbol}|{action}|{ts_ms}|{side}".encode(), digest_size=8).hexdigest()


def _finite(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v if math.isfinite(v) else math.nan


class PaperExecutor:
    """Paper positions with size and risk limits; ``publish`` receives every open and close."""

    def __init__(self, settings: TradingSettings, view: Any, conn: sqlite3.Connection, clock: Clock,
                 publish: Callable[[PaperTradeEvent], None]) -> None:
        self.settings = settings
        self.view = view
        self.conn = conn
        self.clock = clock
        self.publish = publish
        self._alerts: deque[Alert] = deque(maxlen=_ALERTS_KEPT)
        self.last_scores: dict[str, Confluence] = {}
        self.opened = 0
        self.closed = 0
        self.realised_pnl_usd = 0.0
        self.errors = 0
        with conn:
            conn.executescript(SCHEMA)
        self._positions = {p.symbol: p for p in self._load()}

    def _load(self) -> list[Position]:
        rows = self.conn.execute(
            "SELECT symbol, side, qty, entry_price, notional_usd, confluence_score, opened_ms, open_id FROM paper_positions"
        ).fetchall()
        return [Position(r[0], PositionSide(r[1]), r[2], r[3], r[4], r[5], int(r[6]), r[7]) for r in rows]

    def positions(self) -> list[Position]:
        return sorted(self._positions.values(), key=lambda p: p.opened_ms)

    def on_alerts(self, alerts: Sequence[Alert]) -> None:
        """Remember alerts as detector evidence for the next steps."""
        self._alerts.extend(alerts)

    def health(self) -> dict[str, Any]:
        return {
            "state": "running", "open_positions": len(self._positions), "opened": self.opened, "closed": self.closed,
            "realised_pnl_usd": round(self.realised_pnl_usd, 2), "errors": self.errors,
            "min_confluence_score": self.settings.min_confluence_score,
            "scores": {s: round(c.score, 2) for s, c in self.last_scores.items()},
        }

    # ------------------------------------------------------------------ scoring

    def score(self, symbol: str, snap: Any, composite: float | None, now_ms: int) -> Confluence:
        """Confluence for one symbol from the view's snapshot, bars, composite score and alerts."""
        det = _finite(composite) if composite is not None else math.nan
        for a in self._alerts:
            if a.symbol == symbol and a.ts_event_ms >= now_ms - ALERT_MEMORY_MS:
                det = a.score if math.isnan(det) else max(det, a.score)
        trend = _finite(getattr(snap, "change_1h_pct", math.nan))
        if math.isnan(trend):
            bars = self.view.bars_1m(symbol, 60)
            if len(bars) >= 2 and bars[0].open > 0:
                trend = (bars[-1].close / bars[0].open - 1.0) * 100.0
        vol, base = _finite(getattr(snap, "volume_1h", math.nan)), _finite(getattr(snap, "volume_baseline_1h", math.nan))
        ratio = vol / base if base > 0 else math.nan
        oi = _finite(getattr(snap, "oi_change_1h_pct", math.nan))
        return confluence(ConfluenceInputs(det if not math.isnan(det) else 0.0, trend, ratio, oi))

    # ------------------------------------------------------------------ the step

    def step(self) -> list[PaperTradeEvent]:
        """Score every symbol, close what must close, then open what qualifies; returns the fills."""
        s = self.settings
        try:
            snaps = self.view.snapshots()
            comps = self.view.composite_scores()
            view_sim = bool(self.view.source_info().simulated)
        except Exception as exc:
            self.errors += 1
            log.debug("executor: view not ready: %s", exc)
            return []
        fills: list[PaperTradeEvent] = []
        for symbol, snap in snaps.items():
            price = _finite(getattr(snap, "last_price", math.nan))
            if not price > 0:
                continue
            now_ms = int(getattr(snap, "ts_event_ms", 0) or self.clock.now_ms())
            sim = view_sim or bool(getattr(snap, "simulated", False))
            conf = self.score(symbol, snap, comps.get(symbol), now_ms)
            self.last_scores[symbol] = conf
            qualifies = conf.direction is not None and meets_entry_gate(conf.score, s.min_confluence_score)
            pos = self._positions.get(symbol)
            if pos is not None:
                reason = self._exit_reason(pos, price, conf, qualifies)
                if reason:
                    fills.append(self._close(pos, price, conf.score, reason, now_ms, sim))
                continue
            if qualifies and self._room():
                assert conf.direction is not None
                fills.append(self._open(symbol, conf.direction, price, conf, now_ms, sim))
        for ev in fills:
            try:
                self.publish(ev)
            except Exception:
                self.errors += 1
                log.exception("executor: publish failed")
        return fills

    def _room(self) -> bool:
        s = self.settings
        open_notional = sum(p.notional_usd for p in self._positions.values())
        return len(self._positions) < s.max_positions and open_notional + s.position_notional_usd <= s.max_notional_usd + 1e-9

    def _exit_reason(self, pos: Position, price: float, conf: Confluence, qualifies: bool) -> str | None:
        s = self.settings
        sign = 1.0 if pos.side == PositionSide.LONG else -1.0
        move_pct = sign * (price / pos.entry_price - 1.0) * 100.0
        if move_pct <= -s.stop_pct:
            return f"stop: {move_pct:+.2f}% against entry"
        if move_pct >= s.take_profit_pct:
            return f"take profit: {move_pct:+.2f}%"
        if qualifies and conf.direction is not None and conf.direction != pos.side:
            return f"opposite signal: confluence {conf.score:.0f} {conf.direction.value}"
        return None

    def _open(self, symbol: str, side: PositionSide, price: float, conf: Confluence, now_ms: int, sim: bool) -> PaperTradeEvent:
        notional = self.settings.position_notional_usd
        qty = notional / price
        tid = _trade_id(symbol, "open", now_ms, side.value)
        reason = (f"confluence {conf.score:.0f} >= {self.settings.min_confluence_score:g} "
                  f"(detectors {conf.detectors:.0f}, trend {conf.trend:.0f}, volume {conf.volume:.0f}, OI {conf.oi:.0f})")
        ev = PaperTradeEvent(tid, symbol, TradeAction.OPEN, side, qty, price, notional, conf.score, reason, now_ms, 0.0, sim)
        pos = Position(symbol, side, qty, price, notional, conf.score, now_ms, tid)
        with self.conn:
            self.conn.execute("INSERT OR REPLACE INTO paper_positions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                              (symbol, side.value, qty, price, notional, conf.score, now_ms, tid))
            self._record(ev)
        self._positions[symbol] = pos
        self.opened += 1
        return ev

    def _close(self, pos: Position, price: float, score: float, reason: str, now_ms: int, sim: bool) -> PaperTradeEvent:
        sign = 1.0 if pos.side == PositionSide.LONG else -1.0
        pnl = sign * pos.qty * (price - pos.entry_price)
        tid = _trade_id(pos.symbol, "close", now_ms, pos.open_id)
        ev = PaperTradeEvent(tid, pos.symbol, TradeAction.CLOSE, pos.side, pos.qty, price, pos.qty * price, score,
                             reason, now_ms, round(pnl, 6), sim)
        with self.conn:
            self.conn.execute("DELETE FROM paper_positions WHERE symbol = ?", (pos.symbol,))
            self._record(ev)
        del self._positions[pos.symbol]
        self.closed += 1
        self.realised_pnl_usd += pnl
        return ev

    def _record(self, ev: PaperTradeEvent) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO paper_trades VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (ev.id, ev.symbol, ev.action.value, ev.side.value, ev.qty, ev.price, ev.notional_usd, ev.confluence_score,
             ev.reason, ev.pnl_usd, ev.ts_event_ms, int(ev.simulated)),
        )
        insert(self.conn, [trade_item(ev, self.clock.now_ms())])
