"""In-memory Store twin for unit tests."""

from __future__ import annotations

import threading
from typing import Any, Sequence

from virtuoso.domain.alerts import Alert
from virtuoso.domain.bars import Bar


class MemoryStore:
    name = "memory"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bars: dict[tuple[str, int], Bar] = {}
        self._alerts: dict[str, Alert] = {}

    def write_bars(self, bars: Sequence[Bar]) -> None:
        with self._lock:
            for b in bars:
                self._bars[(b.symbol, b.start_ms)] = b

    def read_bars(self, symbol: str, start_ms: int, end_ms: int) -> list[Bar]:
        with self._lock:
            out = [b for (s, t), b in self._bars.items() if s == symbol and start_ms <= t < end_ms]
        return sorted(out, key=lambda b: b.start_ms)

    def write_alerts(self, alerts: Sequence[Alert]) -> None:
        with self._lock:
            for a in alerts:
                self._alerts[a.id] = a

    def read_alerts(self, start_ms: int, end_ms: int, symbols: Sequence[str] | None = None) -> list[Alert]:
        with self._lock:
            out = [
                a for a in self._alerts.values()
                if start_ms <= a.ts_event_ms < end_ms and (symbols is None or a.symbol in symbols)
            ]
        return sorted(out, key=lambda a: (a.ts_event_ms, a.id))

    def health(self) -> dict[str, Any]:
        return {"backend": self.name, "bars": len(self._bars), "alerts": len(self._alerts)}

    def close(self) -> None:
        pass
