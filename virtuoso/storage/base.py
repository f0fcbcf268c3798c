"""The Store boundary: 1-minute bars and alerts history.

The embedded SQLite store is the default; InfluxDB implements the same protocol. Operational
tables (outbox, delivery state, paper trades, mutes, acknowledgements) always live in the
embedded database, whatever the history backend.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence

from virtuoso.domain.alerts import Alert
from virtuoso.domain.bars import Bar


class Store(Protocol):
    name: str

    def write_bars(self, bars: Sequence[Bar]) -> None:
        """Upsert 1-minute bars (same symbol and start_ms replaces)."""
        ...

    def read_bars(self, symbol: str, start_ms: int, end_ms: int) -> list[Bar]:
        """1-minute bars with start_ms in [start_ms, end_ms), oldest first."""
        ...

    def write_alerts(self, alerts: Sequence[Alert]) -> None:
        """Upsert alerts by id (a re-alert at higher severity replaces the row)."""
        ...

    def read_alerts(self, start_ms: int, end_ms: int, symbols: Sequence[str] | None = None) -> list[Alert]:
        """Alerts with ts_event_ms in [start_ms, end_ms), oldest first."""
        ...

    def health(self) -> dict[str, Any]: ...

    def close(self) -> None: ...
