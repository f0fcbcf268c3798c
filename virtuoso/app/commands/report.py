"""``virtuoso report --hours H --out PATH [--symbols A,B]``: the PDF report from stored history.

No engine runs: a read-only :class:`StoredHistoryView` over the history store (the embedded
SQLite database under ``VIRTUOSO_DATA_DIR``, or the configured backend) stands in for it, with
the thresholds persisted in the data directory and the health last written by ``virtuoso run``
(``health.json``) when there is one. Whether the report is REAL or SIMULATED is decided by the
data: bars and alerts carry ``simulated``. Prints a one-line JSON summary. Exit codes: 0 ok,
1 no stored history or rendering failed, 2 bad settings or usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from virtuoso.app.persistence import load_persisted_thresholds
from virtuoso.app.view import SourceInfo
from virtuoso.config import DetectionSettings, Settings, SettingsError, StorageBackend, load_settings
from virtuoso.domain.alerts import Alert
from virtuoso.domain.bars import Bar
from virtuoso.domain.clock import Clock, ManualClock, SystemClock
from virtuoso.storage.base import Store

HEALTH_FILE = "health.json"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write the PDF report for the last H hours from stored history")
    p.add_argument("--hours", type=float, default=24.0, help="period length in hours (default 24)")
    p.add_argument("--out", type=Path, required=True, help="PDF file to write")
    p.add_argument("--symbols", default=None, help="comma-separated symbols (default: the watchlist)")
    p.add_argument("--until", default=None,
                   help="end of the period: ISO time (UTC if no zone) or epoch ms; default now (useful for replayed data)")
    p.set_defaults(func=run)


class StoredHistoryView:
    """Read-only MonitorView over a history store, for a report without a running engine."""

    def __init__(self, settings: Settings, store: Store, clock: Clock, health: dict[str, Any] | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self._store = store
        self._health = health or {}
        self._thresholds = load_persisted_thresholds(Path(settings.data_dir), settings.detection)

    def source_info(self) -> SourceInfo:
        where = getattr(self._store, "path", None) or self._store.name
        return SourceInfo(f"stored history ({self._store.name})", False,
                          f"read from {where}; the label follows the stored bars and alerts", 0)

    def symbols(self) -> tuple[str, ...]:
        return tuple(self.settings.symbols)

    def snapshots(self) -> dict[str, Any]:
        return {}

    def bars_1m(self, symbol: str, minutes: int) -> list[Bar]:
        end = self.clock.now_ms()
        return self._store.read_bars(symbol, end - minutes * 60_000, end)

    def bars_1s(self, symbol: str, seconds: int) -> list[Bar]:
        return []

    def alerts(self, since_ms: int | None = None, symbols: Sequence[str] | None = None) -> list[Alert]:
        return self._store.read_alerts(since_ms or 0, self.clock.now_ms() + 1, symbols)

    def composite_scores(self) -> dict[str, float]:
        return {}

    def alert_outcomes(self, since_ms: int | None = None, symbols: Sequence[str] | None = None) -> list[Any]:
        """Measured outcomes from the embedded database (delivery writes them), for the report's section."""
        db = Path(self.settings.data_dir) / "virtuoso.db"
        if not db.is_file():
            return []
        from virtuoso.alerting.outcome_store import OutcomeStore

        store = OutcomeStore(db)
        try:
            return list(store.outcomes(since_ms, symbols))
        finally:
            store.close()

    def health(self) -> dict[str, Any]:
        return self._health

    def thresholds(self) -> DetectionSettings:
        return self._thresholds

    def apply_thresholds(self, thresholds: DetectionSettings) -> None:
        raise PermissionError("the stored-history view is read-only")


def read_health(data_dir: Path) -> dict[str, Any]:
    """The health the headless engine last wrote, or {} (a missing or broken file is not an error)."""
    try:
        data = json.loads((data_dir / HEALTH_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def open_history_store(settings: Settings, clock: Clock) -> Store:
    """The configured history store (the embedded SQLite file, or the configured backend)."""
    from virtuoso.app.build import build_history_store

    return build_history_store(settings, clock)


def parse_until(text: str | None) -> int | None:
    """Epoch ms from ``--until`` (ISO time, UTC when no zone is given, or an integer of ms)."""
    if text is None:
        return None
    text = text.strip()
    if text.isdigit():
        return int(text)
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp() * 1000)


def split_symbols(text: str | None) -> list[str] | None:
    if not text:
        return None
    out = [s.strip().upper() for s in text.split(",") if s.strip()]
    return list(dict.fromkeys(out)) or None


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if not (0 < args.hours <= 24 * 30):
        print(f"report: --hours must be > 0 and <= 720, got {args.hours}", file=sys.stderr)
        return 2
    try:
        until_ms = parse_until(args.until)
    except ValueError as exc:
        print(f"report: --until: {exc}", file=sys.stderr)
        return 2
    data_dir = Path(settings.data_dir)
    db = data_dir / "virtuoso.db"
    if settings.storage.backend == StorageBackend.SQLITE and not db.is_file():
        print(f"report: no stored history at {db} (run `virtuoso run` or the dashboard first, "
              "or set VIRTUOSO_DATA_DIR)", file=sys.stderr)
        return 1
    clock: Clock = SystemClock() if until_ms is None else ManualClock(until_ms)
    from virtuoso.reports.export import export_pdf

    store = open_history_store(settings, clock)
    try:
        view = StoredHistoryView(settings, store, clock, read_health(data_dir))
        result = export_pdf(view, args.hours, split_symbols(args.symbols), args.out)  # type: ignore[arg-type]
    except (OSError, RuntimeError, ValueError) as exc:
        print(f"report: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(json.dumps({
        "path": str(result.path), "pages": result.pages, "images": result.images, "simulated": result.simulated,
        "seconds": result.seconds, "size_bytes": result.size_bytes, "warnings": list(result.warnings),
        "chart_errors": list(result.chart_errors),
    }))
    return 0
