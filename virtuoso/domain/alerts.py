"""Alerts: frozen, with a stable id per episode of one kind on one symbol."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Mapping


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


def episode_id(symbol: str, kind: str, episode_start_ms: int) -> str:
    """Stable alert id: the same episode of one kind on one symbol always gets the same id."""
    raw = f"{symbol}|{kind}|{episode_start_ms}".encode()
    return hashlib.blake2b(raw, digest_size=8).hexdigest()


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert. ``evidence`` holds measured values and the thresholds they crossed."""

    id: str
    symbol: str
    kind: AlertKind
    severity: Severity
    score: float
    ts_event_ms: int
    evidence: Mapping[str, Any] = field(default_factory=dict)
    message: str = ""
    simulated: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "evidence", MappingProxyType(dict(self.evidence)))

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
        )
