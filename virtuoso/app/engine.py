"""The composition root: builds and connects every part, and is the dashboard's read interface.

    source thread --(bounded queue)--> pipeline thread: parse -> MarketState -> DetectionRunner
                                                          |                      |
                                            closed 1m bars v                     v alerts
                                                      StoreWriter <-------- AlertBus --> DeliveryService
                                                                                         (outbox, Discord,
                                                                                          relay, paper executor)

The engine and :mod:`virtuoso.app.build` (its parts list) are the only places adapters are built;
the CLI commands that run without an engine call the same builders. The engine implements
:class:`virtuoso.app.view.MonitorView`, so pages and reports read snapshots, history, alerts and
health through it and never touch an adapter.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Sequence

from virtuoso.alerting.bus import AlertBus
from virtuoso.app import build
from virtuoso.app.handoff import Handoff
from virtuoso.app.interpreter import InterpreterTuning
from virtuoso.app.operator_marks import OperatorMarks
from virtuoso.app.persistence import ErrorBuffer, load_persisted_thresholds, save_thresholds
from virtuoso.app.universe import Universe
from virtuoso.app.universe import resolve as resolve_universe
from virtuoso.app.view import SourceInfo
from virtuoso.config import DetectionSettings, Settings, SourceKind
from virtuoso.domain.alerts import Alert
from virtuoso.domain.bars import Bar
from virtuoso.domain.clock import Clock, SystemClock
from virtuoso.ingest.base import Source
from virtuoso.sinks.redact import protect_settings
from virtuoso.state.snapshot import SymbolSnapshot
from virtuoso.storage.base import Store

log = logging.getLogger(__name__)

_RECENT_ALERTS_MAX = 5_000
_BATCH_MAX = 1_000  # messages the pipeline thread takes from the hand-off at once (listings wait at most this long)


class Engine(OperatorMarks):
    """Runs ingestion, state, detection, storage and delivery in background threads."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock | None = None,
        *,
        source: Source | None = None,
        store: Store | None = None,
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.db_path = Path(settings.data_dir) / "virtuoso.db"
        self.bus = AlertBus()
        self.store: Store | None = store
        self._given_store = store
        self.state: Any = None
        self.detection: Any = None
        self.pipeline: Any = None
        self.delivery: Any = None
        self.writer: Any = None
        self.universe: Universe | None = None
        self._source: Source | None = source
        self._given_source = source
        self._source_can_block = False
        self._tuning: InterpreterTuning | None = None
        self._source_info = SourceInfo("none", False, "not started", 0)
        self._queue: Handoff[tuple[Any, int]] = Handoff(settings.state.queue_max)
        self._dropped = 0
        self._taken = 0  # messages the pipeline thread has taken from the hand-off (its batch may still be running)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._started = False
        self._start_lock = threading.Lock()
        self._recent_alerts: deque[Alert] = deque(maxlen=_RECENT_ALERTS_MAX)
        self._recent_lock = threading.Lock()
        self._errors = ErrorBuffer(self.clock)
        self._thresholds = load_persisted_thresholds(Path(settings.data_dir), settings.detection)

    # ------------------------------------------------------------------ lifecycle

    def start(self, *, tune_interpreter: bool = False) -> "Engine":
        """Build every part in order and start the threads; calling it again does nothing.

        Settings are checked before anything is built (the source and the delivery service are
        built first: their constructors validate). If a part fails to build, what was built is torn
        down in reverse and the error raised: a failed start leaves no thread, open store or log
        handler behind, and can be retried on the same engine once the cause is fixed.

        ``tune_interpreter`` applies the process-wide tuning of :mod:`virtuoso.app.interpreter`
        (``virtuoso run`` only); :meth:`stop` undoes it.
        """
        with self._start_lock:
            if self._started:
                return self
            Path(self.settings.data_dir).mkdir(parents=True, exist_ok=True)
            protect_settings(self.settings)  # before anything can log: no secret in any record
            logging.getLogger("virtuoso").addHandler(self._errors)
            try:
                self._build()
            except BaseException:
                self._tear_down()
                raise
            self._started = True
            if tune_interpreter:
                self._tuning = InterpreterTuning().apply()
            self._spawn("virtuoso-ingest", self._run_source)
            self._spawn("virtuoso-pipeline", self._run_pipeline)
            return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop ingestion, drain what is queued, flush storage and stop the sinks."""
        if not self._started or self._stop.is_set():
            return
        self._stop.set()
        for t in self._threads:
            t.join(timeout_s)
        if self.delivery is not None:
            self.delivery.stop()
        if self.writer is not None:
            self.writer.stop(flush=True)
        if self.store is not None:
            self.store.close()
        logging.getLogger("virtuoso").removeHandler(self._errors)
        if self._tuning is not None:
            self._tuning.restore()
            self._tuning = None

    def _tear_down(self) -> None:
        """Undo a partial :meth:`_build`, newest part first; a caller's source and store stay open."""
        for name in ("delivery", "recent", "store"):
            self.bus.unsubscribe(name)
        built = self.store if self.store is not self._given_store else None
        for what, part, undo in (
            ("delivery", self.delivery, lambda p: p.stop()),
            ("store writer", self.writer, lambda p: p.stop(flush=True)),
            ("store", built, lambda p: p.close()),
        ):
            if part is None:
                continue
            try:
                undo(part)
            except Exception:  # keep undoing the rest; the build error is the one raised
                log.exception("closing the %s after a failed start failed", what)
        self.delivery = self.writer = self.pipeline = self.detection = self.state = None
        self.store = self._given_store
        self._source = self._given_source
        self._source_info = SourceInfo("none", False, "not started", 0)
        logging.getLogger("virtuoso").removeHandler(self._errors)

    @property
    def running(self) -> bool:
        return self._started and not self._stop.is_set()

    def ingestion_threads(self) -> list[threading.Thread]:
        """The live ingestion threads (one per engine); tests count them."""
        return [t for t in self._threads if t.name == "virtuoso-ingest" and t.is_alive()]

    def _spawn(self, name: str, target: Any) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(t)
        t.start()

    # ------------------------------------------------------------------ wiring

    def _build(self) -> None:
        """Build in order: the parts that check settings first, then the ones that start threads."""
        from virtuoso.detect.runner import DetectionRunner
        from virtuoso.ingest.bybit.parse import BybitParser
        from virtuoso.sinks.storage_writer import StoreWriter
        from virtuoso.state.market import MarketState
        from virtuoso.state.price_band import PriceBand
        from virtuoso.app.pipeline import Pipeline

        s = self.settings
        source, info = self._choose_source()
        self._source, self._source_info = source, info
        self._source_can_block = bool(source.can_block)
        log.info("source: %s (%s)", info.name, info.reason)
        symbols = resolve_universe(source, s)  # VIRTUOSO_SYMBOLS=all, or the list checked by the source
        self.delivery = build.build_delivery(s, self.bus, self, self.db_path, self.clock, self.live_from_ms)
        if self.store is None:
            self.store = build.build_history_store(s, self.clock)

        self.writer = StoreWriter(self.store)
        self.writer.start()
        self.state = MarketState(
            symbols,
            retention_1s_s=s.state.retention_1s_s,
            retention_1m_min=s.state.retention_1m_min,
            simulated=info.simulated,
            on_bar_1m=lambda bar: self.writer.submit_bars([bar]),
        )
        self.universe = Universe(symbols, self.state, None)
        self._reload_history()
        self.detection = DetectionRunner(self._thresholds, s.policy, symbols, simulated=info.simulated)
        self.universe._detection = self.detection
        self.bus.subscribe_alerts("store", self.writer.submit_alerts)
        self.bus.subscribe_alerts("recent", self._remember_alerts)
        self.pipeline = Pipeline(BybitParser(), self.state, self.detection, self.bus, self.clock,
                                 price_band=PriceBand(s.state.price_band_pct))
        self.delivery.start()

    def _choose_source(self) -> tuple[Source, SourceInfo]:
        s, now = self.settings, self.clock.now_ms()
        if self._source is not None:
            src = self._source
            return src, SourceInfo(src.name, src.simulated, "source given by the caller", now)
        kind = s.source
        if kind == SourceKind.SIMULATOR:
            return build.build_simulator(s, self.clock), SourceInfo("simulator", True, "VIRTUOSO_SOURCE=simulator", now)
        if kind == SourceKind.REPLAY:
            src = build.build_replay(s, self.clock)
            return src, SourceInfo("replay", src.simulated, f"replaying {s.replay.path}", now)
        if kind == SourceKind.BYBIT:
            return self._bybit(), SourceInfo("bybit", False, f"VIRTUOSO_SOURCE=bybit ({s.bybit.ws_url})", now)
        reason = build.probe_bybit(s)
        if reason is None:
            return self._bybit(), SourceInfo("bybit", False, f"Bybit reachable at {s.bybit.ws_url}", now)
        why = f"Bybit unreachable ({reason}); showing SIMULATED data"
        log.warning(why)
        return build.build_simulator(s, self.clock), SourceInfo("simulator", True, why, now)

    def _bybit(self) -> Source:
        return build.build_bybit(self.settings, self.clock, on_history=self._on_history, on_gap=self.bus.publish_notice,
                                 on_universe=lambda added, removed: self.universe.offer(added, removed),
                                 rank=self._book_rank)

    def _book_rank(self) -> list[str]:
        """Symbols by event score, then 24 h turnover: which order books the Bybit source streams."""
        scores = self.composite_scores()
        turnover = {s: snap.turnover_24h for s, snap in self.snapshots().items()}
        return sorted(self.symbols(), key=lambda s: (-scores.get(s, 0.0), -(turnover.get(s) or 0.0)))

    def _on_history(self, bars: list[Bar]) -> None:
        """REST backfill: fill market state and the store so charts have history."""
        if self.state is not None:
            self.state.seed_bars_1m(bars)
        if self.writer is not None:
            self.writer.submit_bars(bars)

    def _reload_history(self) -> None:
        minutes = self.settings.storage.reload_minutes
        if minutes <= 0 or self.store is None:
            return
        end = self.clock.now_ms()
        start = end - minutes * 60_000
        for symbol in self.universe.symbols():
            try:
                bars = self.store.read_bars(symbol, start, end)
            except Exception as exc:  # a broken store must not stop start-up
                log.warning("history reload failed for %s: %s", symbol, exc)
                continue
            if bars:
                self.state.seed_bars_1m(bars)

    # ------------------------------------------------------------------ threads

    def _emit(self, msg: dict[str, Any], ts_recv_ns: int) -> None:
        if self._source_can_block:
            # A file or the simulator can wait: never drop their data (a lost ticker delta would
            # corrupt merged state and leave holes in history); block until the pipeline catches up.
            self._queue.put((msg, ts_recv_ns), self._stop)
            return
        if not self._queue.offer((msg, ts_recv_ns)):
            self._dropped += 1
            if self._dropped == 1 or self._dropped % 10_000 == 0:
                log.warning("pipeline queue full: %d messages dropped so far", self._dropped)

    def _run_source(self) -> None:
        assert self._source is not None
        try:
            self._source.run(self._emit, self._stop)
        except Exception:
            log.exception("source %s stopped with an error", self._source_info.name)

    def _run_pipeline(self) -> None:
        take = self._queue.take
        on_message = self.pipeline.on_message
        changes = self.universe.pending
        while True:
            if changes:  # listings and delistings, applied between messages
                self.universe.apply_pending()
            batch = take(_BATCH_MAX, 0.25)  # whatever has come, at once: no per-message hand-off
            if not batch:
                if self._stop.is_set():
                    break
                continue
            self._taken += len(batch)
            for msg, ts in batch:
                try:
                    on_message(msg, ts)
                except Exception:  # the pipeline promises not to raise; belt and braces
                    log.exception("pipeline failed on a message")
        try:
            self.pipeline.finish()
        except Exception:
            log.exception("pipeline finish failed")

    def _remember_alerts(self, alerts: Sequence[Alert]) -> None:
        with self._recent_lock:
            self._recent_alerts.extend(alerts)

    # ------------------------------------------------------------------ MonitorView

    def source_info(self) -> SourceInfo:
        return self._source_info

    def symbols(self) -> tuple[str, ...]:
        if self.universe is not None:
            return self.universe.symbols()
        return () if self.settings.follows_all else tuple(self.settings.symbols)

    def snapshots(self) -> dict[str, SymbolSnapshot]:
        return {} if self.state is None else self.state.snapshots()

    def bars_1m(self, symbol: str, minutes: int) -> list[Bar]:
        if self.state is None:
            return []
        end = self.clock.now_ms()
        start = end - minutes * 60_000
        mem = [b for b in self.state.bars_1m(symbol) if b.start_ms >= start]
        if self.store is not None and (not mem or mem[0].start_ms > start + 60_000):
            cutoff = mem[0].start_ms if mem else end + 1
            try:
                older = self.store.read_bars(symbol, start, cutoff)
            except Exception as exc:
                log.warning("history read failed for %s: %s", symbol, exc)
                older = []
            mem = older + mem
        return mem

    def bars_between(self, symbol: str, start_ms: int, end_ms: int) -> list[Bar]:
        """Closed 1-minute bars with start in [start_ms, end_ms) by event time (memory, then the store
        for what memory no longer holds): outcomes and alert charts, which live by event time."""
        if self.state is None:
            return []
        held = self.state.bars_1m(symbol)
        mem = [b for b in held if start_ms <= b.start_ms < end_ms]
        oldest_mem = held[0].start_ms if held else end_ms
        if self.store is not None and start_ms < oldest_mem:
            try:
                older = self.store.read_bars(symbol, start_ms, min(end_ms, oldest_mem))
            except Exception as exc:
                log.warning("history read failed for %s: %s", symbol, exc)
                older = []
            mem = older + mem
        return mem

    def alert_outcomes(self, since_ms: int | None = None, symbols: Sequence[str] | None = None) -> list[Any]:
        """What the market did after each event (``virtuoso.alerting.outcomes.Outcome``), oldest first."""
        if self.delivery is None:
            return []
        try:
            return list(self.delivery.outcomes(since_ms, symbols))
        except Exception as exc:
            log.warning("outcome read failed: %s", exc)
            return []

    def live_from_ms(self) -> int | None:
        """Event time from which the source's data is live; earlier data is warm-up history."""
        value = getattr(self._source, "live_from_ms", None)
        return int(value) if isinstance(value, int) else None

    def bars_1s(self, symbol: str, seconds: int) -> list[Bar]:
        if self.state is None:
            return []
        bars = self.state.bars_1s(symbol)
        return bars[-seconds:] if seconds > 0 else []

    def alerts(self, since_ms: int | None = None, symbols: Sequence[str] | None = None) -> list[Alert]:
        start = since_ms if since_ms is not None else 0
        by_id: dict[str, Alert] = {}
        if self.store is not None:
            try:
                for a in self.store.read_alerts(start, self.clock.now_ms() + 86_400_000, symbols):
                    by_id[a.id] = a
            except Exception as exc:
                log.warning("alert history read failed: %s", exc)
        with self._recent_lock:
            recent = list(self._recent_alerts)
        for a in recent:  # not yet written by the store writer, or a fresher severity
            if a.ts_event_ms >= start and (symbols is None or a.symbol in symbols):
                by_id[a.id] = a
        return sorted(by_id.values(), key=lambda a: (a.ts_event_ms, a.id))

    def composite_scores(self) -> dict[str, float]:
        return {} if self.detection is None else self.detection.composite_scores()

    def scanner_rows(self) -> list[Any]:
        """Every followed symbol's Scanner row, worst first (:mod:`virtuoso.app.scanner`)."""
        from virtuoso.app.scanner import ALERT_LOOKBACK_MS, BARS_NEEDED, scanner_rows

        if self.state is None:
            return []
        symbols = self.symbols()
        bars = {s: self.state.bars_1m(s, BARS_NEEDED) for s in symbols}
        alerts = self.alerts(self.clock.now_ms() - ALERT_LOOKBACK_MS)
        return scanner_rows(symbols, self.state.snapshots(), bars, self.composite_scores(), alerts)

    def thresholds(self) -> DetectionSettings:
        return self._thresholds

    def apply_thresholds(self, thresholds: DetectionSettings) -> None:
        self._thresholds = thresholds
        if self.detection is not None:
            self.detection.set_thresholds(thresholds)
        save_thresholds(Path(self.settings.data_dir), thresholds)
        log.info("detection thresholds applied and saved")

    def health(self) -> dict[str, Any]:
        info = self._source_info
        src = {"name": info.name, "simulated": info.simulated, "reason": info.reason, "started_ms": info.started_ms}
        if self._source is not None:
            src.update(_safe(self._source.health))
        return {
            "ts_ms": self.clock.now_ms(),
            "running": self.running,
            "source": src,
            "pipeline": {
                **(_safe(self.pipeline.stats) if self.pipeline is not None else {}),
                "queue_depth": self._queue_depth(),
                "queue_max": self._queue.maxsize,
                "queue_dropped": self._dropped,
            },
            "storage": {
                **(_safe(self.store.health) if self.store is not None else {}),
                "writer": _safe(self.writer.health) if self.writer is not None else {},
            },
            "universe": self.universe.health(self._source, self.clock.now_ms(), src.get("connections"))
            if self.universe is not None else {},
            "bus": self.bus.health(),
            "sinks": _safe(self.delivery.health) if self.delivery is not None else {"enabled": False},
            "errors": list(self._errors.records)[-20:],
        }

    def _queue_depth(self) -> int:
        """Messages waiting for the pipeline: in the hand-off, and taken in a batch not yet run."""
        in_batch = self._taken - self.pipeline.messages if self.pipeline is not None else 0
        return self._queue.qsize() + max(0, in_batch)

    def wait_until(self, predicate: Any, timeout_s: float = 10.0, poll_s: float = 0.05) -> bool:
        """Poll ``predicate(self)`` until true or timeout (used by tests and the CLI)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(poll_s)
        return bool(predicate(self))


def _safe(fn: Any) -> dict[str, Any]:
    try:
        return dict(fn())
    except Exception as exc:  # health must render even when a part is broken
        return {"health_error": str(exc)}
