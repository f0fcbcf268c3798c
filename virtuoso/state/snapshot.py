"""Read-only per-symbol snapshot that market state hands to detectors, the UI and the relay."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SymbolSnapshot:
    symbol: str
    ts_event_ms: int  # time of the newest event applied for this symbol (0 if none yet)
    last_price: float
    mark_price: float
    index_price: float
    open_interest: float
    open_interest_value: float
    funding_rate: float
    volume_24h: float
    turnover_24h: float
    bid_price: float
    ask_price: float
    change_1h_pct: float  # NaN until an hour of bars exists
    change_24h_pct: float
    oi_change_1h_pct: float
    volume_1h: float  # base units traded in the last 60 closed minutes plus the open one
    volume_baseline_1h: float  # median hourly volume over the retained 1-minute bars (NaN if too little)
    simulated: bool

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}
