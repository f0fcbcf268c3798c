"""Alerts: one *event* per manipulation, with a stable id; each change of an event is one Alert.

An event is what a trader is told about: one symbol (or ``MARKET`` for a move of the whole market),
one primary kind, one id for its whole life. Every change of it (opened, escalated, reclassified to a
more specific kind, a pump's dump, ended) is published as an :class:`Alert` carrying the same ``id``
and the event's state at that moment; sinks keep the latest line per id. Readings of other kinds at
the same time are evidence of the event, not alerts of their own.

Evidence shape (a JSON-ready mapping)::

    {
      "lines": ["OI +3.2 % in 5 min: 4.1x this coin's usual 5-minute move (alarm at 1.5 %)", ...],
      "readings": {"oi_surge": {"level": 1.8, ...measured values, named with units...}, ...},
      "market_wide": false,          # demoted because the whole market moved (optional)
      "phase": "pump" | "dump",      # pump_and_dump only (optional)
    }

``lines`` are the evidence in words, primary reading first; ``readings`` hold the numbers behind
them per kind. Older alerts (flat evidence dicts) still load.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Mapping

MARKET_SYMBOL = "MARKET"  # the symbol of a market-wide event


class Severity(StrEnum):
    INFO = "info"
    WATCH = "watch"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.INFO: 0, Severity.WATCH: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}


class AlertKind(StrEnum):
    OI_SURGE = "oi_surge"
    VOLUME_SPIKE = "volume_spike"
    PRICE_MOVE = "price_move"
    OI_PRICE_DIVERGENCE = "oi_price_divergence"
    PUMP_AND_DUMP = "pump_and_dump"
    LIQUIDATION_CASCADE = "liquidation_cascade"
    MARKET_MOVE = "market_move"  # a move of the whole market: one event, symbol MARKET_SYMBOL


# The six kinds a single symbol's manipulation is classified as (everything but MARKET_MOVE).
SYMBOL_KINDS = tuple(k for k in AlertKind if k is not AlertKind.MARKET_MOVE)


class Change(StrEnum):
    """What this line of an event says happened."""

    NEW = "new"  # the event opened
    ESCALATED = "escalated"  # severity rose
    RECLASSIFIED = "reclassified"  # a more specific kind now explains it (volume spike -> pump)
    DUMP = "dump"  # a pump's dump: the same event, escalated
    ENDED = "ended"  # every reading fell back; the last line of the event


def episode_id(symbol: str, kind: str, episode_start_ms: int) -> str:
    """Stable id from symbol, a key and the start time: the same event always gets the same id.

    Events use ``kind="event"`` (one id per event whatever its primary kind becomes)."""
    raw = f"{symbol}|{kind}|{episode_start_ms}".encode()
    return hashlib.blake2b(raw, digest_size=8).hexdigest()


def event_id(symbol: str, start_ms: int) -> str:
    """The id of the event on ``symbol`` that opened at ``start_ms``."""
    return episode_id(symbol, "event", start_ms)


@dataclass(frozen=True, slots=True)
class Alert:
    """One line of an event: its state when it changed. ``evidence`` holds the readings behind it.

    ``direction`` is +1 when the event points up (a pump, shorts squeezed, price up), -1 down, 0 when
    it has no direction (a volume spike on a flat price). ``ts_start_ms`` is when the event opened
    (0 for lines written before events existed).
    """

    id: str
    symbol: str
    kind: AlertKind
    severity: Severity
    score: float
    ts_event_ms: int
    evidence: Mapping[str, Any] = field(default_factory=dict)
    message: str = ""
    simulated: bool = False
    ts_start_ms: int = 0
    change: Change = Change.NEW
    direction: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "evidence", MappingProxyType(dict(self.evidence)))

    @property
    def evidence_lines(self) -> tuple[str, ...]:
        """The evidence in words (empty for old alerts that carry numbers only)."""
        lines = self.evidence.get("lines")
        return tuple(str(x) for x in lines) if isinstance(lines, (list, tuple)) else ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form used by replay output, the relay and storage."""
        return {
            "id": self.id,
            "symbol": self.symbol,
            "kind": self.kind.value,
            "severity": self.severity.value,
            "score": round(float(self.score), 2),
            "ts_event_ms": int(self.ts_event_ms),
            "evidence": dict(self.evidence),
            "message": self.message,
            "simulated": self.simulated,
            "ts_start_ms": int(self.ts_start_ms),
            "change": self.change.value,
            "direction": int(self.direction),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Alert":
        return cls(
            id=str(d["id"]),
            symbol=str(d["symbol"]),
            kind=AlertKind(d["kind"]),
            severity=Severity(d["severity"]),
            score=float(d["score"]),
            ts_event_ms=int(d["ts_event_ms"]),
            evidence=dict(d.get("evidence") or {}),
            message=str(d.get("message") or ""),
            simulated=bool(d.get("simulated", False)),
            ts_start_ms=int(d.get("ts_start_ms") or 0),
            change=Change(d.get("change") or Change.NEW.value),
            direction=int(d.get("direction") or 0),
        )
