"""Paper-trading events published on the relay's ``trade_alerts`` channel and to Discord."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class TradeAction(StrEnum):
    OPEN = "open"
    CLOSE = "close"


class PositionSide(StrEnum):
    LONG = "long"
    SHORT = "short"


@dataclass(frozen=True, slots=True)
class PaperTradeEvent:
    id: str
    symbol: str
    action: TradeAction
    side: PositionSide
    qty: float
    price: float
    notional_usd: float
    confluence_score: float
    reason: str
    ts_event_ms: int
    pnl_usd: float = 0.0
    simulated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "symbol": self.symbol,
            "action": self.action.value,
            "side": self.side.value,
            "qty": self.qty,
            "price": self.price,
            "notional_usd": self.notional_usd,
            "confluence_score": self.confluence_score,
            "reason": self.reason,
            "ts_event_ms": self.ts_event_ms,
            "pnl_usd": self.pnl_usd,
            "simulated": self.simulated,
        }
