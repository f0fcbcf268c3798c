"""The one read-only interface the dashboard, reports and relay use to see the running engine.

The Engine implements it. UI code depends on this Protocol only, so an in-memory twin can stand in
for unit tests. Commands that change the engine (``apply_thresholds``, acknowledge and mute) are here too, so
pages never reach into adapters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence

from virtuoso.config import DetectionSettings, Settings
from virtuoso.domain.alerts import Alert
from virtuoso.domain.bars import Bar
from virtuoso.state.snapshot import SymbolSnapshot


@dataclass(frozen=True, slots=True)
class SourceInfo:
    name: str  # "bybit" | "simulator" | "replay"
    simulated: bool
    reason: str  # why this source runs, e.g. "Bybit unreachable: ...; running the simulator"
    started_ms: int


class MonitorView(Protocol):
    settings: Settings

    def source_info(self) -> SourceInfo: ...

    def symbols(self) -> tuple[str, ...]: ...

    def snapshots(self) -> dict[str, SymbolSnapshot]: ...

    def bars_1m(self, symbol: str, minutes: int) -> list[Bar]:
        """Closed 1-minute bars of the last ``minutes`` (memory first, then the store), oldest first."""
        ...

    def bars_1s(self, symbol: str, seconds: int) -> list[Bar]: ...

    def bars_between(self, symbol: str, start_ms: int, end_ms: int) -> list[Bar]:
        """Closed 1-minute bars with start in [start_ms, end_ms) by event time, oldest first."""
        ...

    def alert_outcomes(self, since_ms: int | None = None, symbols: Sequence[str] | None = None) -> list[Any]:
        """What the market did after each event opened since ``since_ms``
        (:class:`virtuoso.alerting.outcomes.Outcome`), oldest first."""
        ...

    def alerts(self, since_ms: int | None = None, symbols: Sequence[str] | None = None) -> list[Alert]: ...

    def composite_scores(self) -> dict[str, float]: ...

    def scanner_rows(self) -> list[Any]:
        """Every followed symbol's :class:`virtuoso.app.scanner.ScannerRow`, worst first."""
        ...

    def health(self) -> dict[str, Any]:
        """Sections: source, pipeline, storage, sinks, errors (JSON-ready)."""
        ...

    def thresholds(self) -> DetectionSettings: ...

    def apply_thresholds(self, thresholds: DetectionSettings) -> None:
        """Use these thresholds at once and persist them in the data directory."""
        ...

    # Operator marks (virtuoso.app.operator_marks): the UI never opens the database itself.
    def acknowledged(self) -> set[str]:
        """Ids of every acknowledged alert event."""
        ...

    def acknowledge(self, alert_ids: Sequence[str]) -> None: ...

    def active_mutes(self) -> list[Any]:
        """Mutes in force now, each with ``target_kind`` ("symbol" or "kind"), ``target``, ``until_ms``."""
        ...

    def mute(self, target_kind: Any, target: str, until_ms: int) -> None: ...

    def unmute(self, target_kind: Any, target: str) -> None: ...
