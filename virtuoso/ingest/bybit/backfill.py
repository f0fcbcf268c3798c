"""REST backfill: recent 1-minute klines plus 5-minute open interest, merged into 1-minute bars.

Runs at start and after every gap in the live stream so charts and detectors have history at
once. :func:`merge_bars` is pure; :class:`Backfiller` does the fetching and reports progress.
Kline rows are ``[startTime, open, high, low, close, volume, turnover]`` (strings, see
https://bybit-exchange.github.io/docs/v5/market/kline); open interest comes every 5 minutes
(https://bybit-exchange.github.io/docs/v5/market/open-interest) and is carried forward onto
each minute. The minute still open is left out: the live stream builds it.
"""

from __future__ import annotations

import bisect
import logging
import math
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from virtuoso.domain.bars import Bar
from virtuoso.ingest.bybit.rest import BybitRest, BybitRestError

log = logging.getLogger(__name__)

MINUTE_MS = 60_000
OI_STEP_MS = 300_000


def merge_bars(symbol: str, klines: Sequence[Sequence[Any]], oi_points: Sequence[tuple[int, float]], now_ms: int) -> tuple[list[Bar], int]:
    """1-minute bars (oldest first) and the number of kline rows skipped as malformed.

    Each bar's ``open_interest`` is the latest OI point at or before the end of its minute
    (NaN before the first point).
    """
    oi_times = [t for t, _ in oi_points]
    bars: dict[int, Bar] = {}
    bad = 0
    for row in klines:
        try:
            start = int(row[0])
            o, h, lo, c, vol, turn = (float(x) for x in row[1:7])
        except (TypeError, ValueError, IndexError):
            bad += 1
            continue
        values = (o, h, lo, c, vol, turn)
        if start % MINUTE_MS or not all(math.isfinite(v) and v >= 0 for v in values) or h < lo or min(o, c) <= 0:
            bad += 1
            continue
        if start + MINUTE_MS > now_ms:
            continue  # the open minute belongs to the live stream
        i = bisect.bisect_right(oi_times, start + MINUTE_MS - 1) - 1
        oi = oi_points[i][1] if i >= 0 else float("nan")
        bars[start] = Bar(symbol, start, 60, o, h, lo, c, volume=vol, turnover=turn, open_interest=oi)
    return [bars[t] for t in sorted(bars)], bad


@dataclass
class BackfillProgress:
    """What the health page shows about backfill (mutable; read under the backfiller's lock)."""

    state: str = "idle"  # idle | running | done | failed
    reason: str = ""
    runs: int = 0
    symbols_done: int = 0
    symbols_total: int = 0
    bars: int = 0
    malformed_rows: int = 0
    errors: list[str] = field(default_factory=list)
    last_window_ms: tuple[int, int] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state, "reason": self.reason, "runs": self.runs,
            "symbols_done": self.symbols_done, "symbols_total": self.symbols_total,
            "bars": self.bars, "malformed_rows": self.malformed_rows, "errors": self.errors[-5:],
            "last_window_ms": list(self.last_window_ms) if self.last_window_ms else None,
        }


class Backfiller:
    """Fetches and merges history per symbol and hands each symbol's bars to ``on_history``.

    A failing symbol is reported in progress and the others still run.
    """

    def __init__(self, rest: BybitRest, symbols: Sequence[str], on_history: Callable[[list[Bar]], None]) -> None:
        self._rest = rest
        self._symbols = list(symbols)
        self._on_history = on_history
        self._lock = threading.Lock()
        self._progress = BackfillProgress()

    def progress(self) -> dict[str, Any]:
        with self._lock:
            return self._progress.as_dict()

    def set_symbols(self, symbols: Sequence[str]) -> None:
        """The symbols a run without its own list backfills (the universe changes while running)."""
        self._symbols = list(symbols)

    def run(self, start_ms: int, end_ms: int, reason: str, stop: threading.Event | None = None,
            symbols: Sequence[str] | None = None) -> int:
        """Backfill ``[start_ms, end_ms]`` for ``symbols`` (default: every symbol); returns the
        number of bars delivered."""
        start_ms -= start_ms % MINUTE_MS
        todo = list(self._symbols if symbols is None else symbols)
        with self._lock:
            p = self._progress
            p.state, p.reason, p.runs = "running", reason, p.runs + 1
            p.symbols_done, p.symbols_total, p.last_window_ms = 0, len(todo), (start_ms, end_ms)
        delivered, failed = 0, False
        for symbol in todo:
            if stop is not None and stop.is_set():
                break
            try:
                klines = self._rest.klines_1m(symbol, start_ms, end_ms)
                oi = self._rest.open_interest_5m(symbol, start_ms - OI_STEP_MS, end_ms)
                bars, bad = merge_bars(symbol, klines, oi, end_ms)
                if bars:
                    self._on_history(bars)
                delivered += len(bars)
                with self._lock:
                    self._progress.bars += len(bars)
                    self._progress.malformed_rows += bad
            except BybitRestError as exc:
                failed = True
                log.warning("backfill %s failed: %s", symbol, exc)
                with self._lock:
                    self._progress.errors.append(f"{symbol}: {exc}")
            except Exception as exc:  # on_history or a surprise in a response must not kill the worker
                failed = True
                log.exception("backfill %s failed", symbol)
                with self._lock:
                    self._progress.errors.append(f"{symbol}: {type(exc).__name__}: {exc}")
            with self._lock:
                self._progress.symbols_done += 1
        with self._lock:
            self._progress.state = "failed" if failed else "done"
        return delivered
