"""Notices: what the monitor says about itself (it was blind for a while; the day's heartbeat).

A :class:`FeedGap` is raised by a live source when its feed was interrupted and has come back
(and, where the source can, the missing minutes were backfilled). Delivery decides whether it is
long enough to tell anyone; sources and detection never import a sink to say it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True, slots=True)
class FeedGap:
    """No live data for ``symbols`` from ``start_ms`` to ``end_ms`` (clock time); ``cause`` in words.

    ``backfilled_bars`` is how many 1-minute bars the source fetched to fill it (0 when it could not).
    """

    start_ms: int
    end_ms: int
    symbols: tuple[str, ...]
    cause: str
    source: str = "bybit"
    backfilled_bars: int = 0
    backfill_error: str = ""

    @property
    def id(self) -> str:
        return f"gap:{self.source}:{int(self.start_ms)}:{int(self.end_ms)}"

    @property
    def duration_s(self) -> float:
        return max(0, int(self.end_ms) - int(self.start_ms)) / 1000.0

    @property
    def backfilled(self) -> bool:
        return self.backfilled_bars > 0 and not self.backfill_error

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "type": "feed_gap", "start_ms": int(self.start_ms), "end_ms": int(self.end_ms),
            "duration_s": round(self.duration_s, 1), "symbols": list(self.symbols), "cause": self.cause,
            "source": self.source, "backfilled": self.backfilled, "backfilled_bars": int(self.backfilled_bars),
            "backfill_error": self.backfill_error,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "FeedGap":
        return cls(int(d["start_ms"]), int(d["end_ms"]), tuple(str(s) for s in d.get("symbols") or ()),
                   str(d.get("cause") or ""), str(d.get("source") or "bybit"), int(d.get("backfilled_bars") or 0),
                   str(d.get("backfill_error") or ""))
