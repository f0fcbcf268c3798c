"""Delivery service: the outbox and every outgoing channel on one side thread.

Runs its own thread with its own asyncio loop so ingestion never waits for it. Bus subscribers
(called on the pipeline thread) only hand alert lines, trades and notices to the loop with
``call_soon_threadsafe``; the loop commits them to the outbox in one transaction (registering
each event for its outcome in the same one), then wakes each sink. Each sink (Discord, Telegram,
the generic webhook, the WebSocket relay) drains the outbox in its own task and records its own
delivery state, so a failing Discord never holds back the relay. Alongside: the chart worker, the
outcome tracker, the paper executor, market snapshots for the relay and the daily heartbeat.
See docs/delivery.md for the guarantees.

Lines raised while the source replays warm-up history (``live_from_ms()``: the event time from
which the source's data is live) are committed with ``history`` set: stored, measured, replayed to
relay clients that ask with ``since``, never pushed to Discord, Telegram or the webhook.

If the loop is not running (before start, after stop), a subscriber writes the outbox directly so
nothing published is lost; it is delivered on the next start.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Sequence

from virtuoso.alerting.bus import AlertBus
from virtuoso.alerting.outbox import (
    Outbox, OutboxItem, alert_item, connect, insert, migrate, notice_item, outcome_item, trade_item,
)
from virtuoso.alerting.outcome_store import SCHEMA as OUTCOME_SCHEMA, OutcomeStore, register_lines
from virtuoso.alerting.outcomes import Outcome, outlook_note
from virtuoso.config import Settings, check_delivery_settings
from virtuoso.domain.alerts import Alert
from virtuoso.domain.bars import Bar
from virtuoso.domain.clock import Clock
from virtuoso.domain.notices import FeedGap
from virtuoso.domain.trades import PaperTradeEvent
from virtuoso.sinks import notices
from virtuoso.sinks.base import Sink
from virtuoso.sinks.charts import ChartService, chart_bars
from virtuoso.sinks.ws_relay import check_relay_settings

if TYPE_CHECKING:
    from virtuoso.sinks.discord import DiscordSink
    from virtuoso.sinks.outcome_tracker import OutcomeTracker
    from virtuoso.sinks.telegram import TelegramSink
    from virtuoso.sinks.webhook import WebhookSink
    from virtuoso.sinks.ws_relay import RelayOutboxSink, RelayServer
    from virtuoso.trading.executor import PaperExecutor

log = logging.getLogger(__name__)

STOP_GRACE_S = 3.0
START_TIMEOUT_S = 15.0
HEARTBEAT_CHECK_S = 30.0
CHART_TAIL_S = 120


class DeliveryService:
    """Owns the delivery thread; ``health()`` and ``outcomes()`` are safe to call from any thread."""

    def __init__(self, settings: Settings, bus: AlertBus, view: Any, db_path: Path, clock: Clock, *,
                 build_sinks: Callable[["DeliveryService"], Awaitable[None]],
                 live_from_ms: Callable[[], int | None] | None = None, chart_mode: str = "process") -> None:
        """``build_sinks(service)`` builds the configured channels on the delivery loop, once the
        outbox is open (the composition root passes :func:`virtuoso.app.delivery_build.build_sinks`)."""
        check_relay_settings(settings.relay)
        check_delivery_settings(settings)
        self.settings = settings
        self.bus = bus
        self.view = view
        self.db_path = Path(db_path)
        self.clock = clock
        self.live_from_ms = live_from_ms or (lambda: None)
        self.chart_mode = chart_mode
        self._build_sinks = build_sinks
        self.outbox: Outbox | None = None
        self.outcome_store = OutcomeStore(self.db_path)
        self.discord: DiscordSink | None = None
        self.telegram: TelegramSink | None = None
        self.webhook: WebhookSink | None = None
        self.relay: RelayServer | None = None  # the server; its outbox side is relay_sink
        self.relay_sink: RelayOutboxSink | None = None
        self.executor: PaperExecutor | None = None
        self.charts: ChartService | None = None
        self.tracker: OutcomeTracker | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._stop_requested: asyncio.Event | None = None
        self._sinks: list[Sink] = []  # the channels built, each drained by its own task
        self._subscribed = False
        self._notes: dict[tuple[str, str], str] = {}
        self.accepted = 0
        self.written_direct = 0
        self.history_lines = 0
        self.gaps_told = 0
        self.gaps_ignored = 0
        self.errors = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> "DeliveryService":
        """Start the thread and wait until the relay is bound (so ``relay_port`` is known)."""
        if self._thread is not None:
            return self
        if not self._subscribed:
            self.bus.subscribe_alerts("delivery", self._on_alerts)
            self.bus.subscribe_trades("delivery", self._on_trade)
            self.bus.subscribe_notices("delivery", self._on_notice)
            self._subscribed = True
        self._ready.clear()
        self._thread = threading.Thread(target=self._run_thread, name="virtuoso-delivery", daemon=True)
        self._thread.start()
        self._ready.wait(START_TIMEOUT_S)
        if self._start_error is not None:
            raise self._start_error
        return self

    def stop(self, timeout_s: float = STOP_GRACE_S + 3.0) -> None:
        """Ask sinks to flush what they can within a short grace, then stop the loop."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            self.outcome_store.close()  # built but never started, or its start failed
            return
        if self._stop_requested is not None:
            try:
                loop.call_soon_threadsafe(self._stop_requested.set)
            except RuntimeError:
                pass
        thread.join(timeout_s)
        self._thread = None
        self.outcome_store.close()  # reopened on the next use

    def add_sink(self, sink: Sink) -> None:
        """A built channel (called by ``build_sinks`` on the loop): the outbox keeps its delivery
        records from now on, and a task drains it once the service is running."""
        assert self.outbox is not None
        self.outbox.register_sink(sink.name)
        self._sinks.append(sink)

    @property
    def relay_port(self) -> int | None:
        return None if self.relay is None else self.relay.port

    def _run_thread(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # start-up failures reach start(); later ones are logged
            if not self._ready.is_set():
                self._start_error = exc
            else:
                log.exception("delivery loop stopped with an error")
        finally:
            self._ready.set()
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                self._loop = None
                loop.close()

    async def _main(self) -> None:
        self._stop_requested = asyncio.Event()
        self.outbox = Outbox(self.db_path, self.clock)
        tasks: list[asyncio.Task[Any]] = []
        side: list[asyncio.Task[Any]] = []
        try:
            await self._build_sinks(self)
            for sink in self._sinks:
                tasks.append(asyncio.create_task(sink.run(), name=f"sink-{sink.name}"))
            if self.relay is not None and self.relay.state == "listening":
                from virtuoso.sinks.ws_relay import publish_market

                side.append(asyncio.create_task(publish_market(self.relay, self.view.snapshots, self.view.composite_scores)))
            if self.executor is not None:
                side.append(asyncio.create_task(self._run_executor()))
            if self.tracker is not None:
                side.append(asyncio.create_task(self.tracker.run()))
            if self.settings.notices.heartbeat_utc_hour is not None:
                side.append(asyncio.create_task(self._run_heartbeat()))
            self._ready.set()
            await self._stop_requested.wait()
            for t in side:
                t.cancel()
            for sink in self._sinks:
                sink.stopping = True
                sink.wake.set()
            if tasks:
                done, pending = await asyncio.wait(tasks, timeout=STOP_GRACE_S)
                for t in pending:
                    t.cancel()
                await asyncio.gather(*tasks, *side, return_exceptions=True)
        finally:
            if self.relay is not None:
                await self.relay.stop()
            for client in (self.discord.client if self.discord is not None else None, self.telegram, self.webhook):
                if client is not None:
                    await client.aclose()
            if self.charts is not None:
                self.charts.close(wait=True)  # joins the worker (at most the drawing in progress)
            self.outbox.close()

    async def _run_executor(self) -> None:
        assert self.executor is not None
        while True:
            await asyncio.sleep(1.0)
            try:
                if self.executor.step():
                    self._wake()
            except Exception:
                self.errors += 1
                log.exception("paper executor step failed")

    async def _run_heartbeat(self) -> None:
        while True:
            try:
                now = self.clock.now_ms()
                day = notices.heartbeat_due(now, self.settings.notices)
                if day is not None and self.outbox is not None:
                    beat = notices.heartbeat(self.outbox, day, now, self._simulated())
                    if self.outbox.add([notice_item(beat, now)]):
                        self._wake()
            except Exception:
                self.errors += 1
                log.exception("heartbeat failed")
            await asyncio.sleep(HEARTBEAT_CHECK_S)

    # ------------------------------------------------------------------ what sinks ask for

    def _simulated(self) -> bool:
        try:
            return bool(self.view.source_info().simulated)
        except Exception:
            return False

    def context(self, symbol: str) -> tuple[Any, float | None, bool]:
        """Snapshot, composite score and simulated flag for a message."""
        try:
            snap = self.view.snapshots().get(symbol)
            comp = self.view.composite_scores().get(symbol)
            sim = bool(self.view.source_info().simulated)
        except Exception:
            return None, None, False
        return snap, comp, sim

    def bars_between(self, symbol: str, start_ms: int, end_ms: int) -> list[Bar]:
        """1-minute bars in [start, end) from the view (memory, then the store)."""
        reader = getattr(self.view, "bars_between", None)
        if reader is not None:
            return list(reader(symbol, start_ms, end_ms))
        minutes = max(1, int((self.clock.now_ms() - start_ms) // 60_000) + 1)
        return [b for b in self.view.bars_1m(symbol, minutes) if start_ms <= b.start_ms < end_ms]

    def chart_window(self, symbol: str, start_ms: int, end_ms: int) -> tuple[Bar, ...]:
        tail = []
        try:
            tail = list(self.view.bars_1s(symbol, CHART_TAIL_S))
        except Exception:
            tail = []
        return chart_bars(self.bars_between(symbol, start_ms, end_ms), [b for b in tail if b.start_ms < end_ms])

    def outlook(self, alert: Alert) -> str | None:
        """The measured sentence for the Trading Outlook (cached until the next outcome update)."""
        if not self.settings.outcomes.enabled:
            return None
        key = (alert.symbol, alert.kind.value)
        note = self._notes.get(key)
        if note is None:
            past = self.outcome_store.measured(None, alert.kind.value)
            note = outlook_note(past, alert.symbol, alert.kind.value, self.settings.outcomes.hit_multiple,
                                exclude_id=alert.id)
            self._notes[key] = note
        return note

    def outcomes(self, since_ms: int | None = None, symbols: Sequence[str] | None = None) -> list[Outcome]:
        return self.outcome_store.outcomes(since_ms, symbols)

    # ------------------------------------------------------------------ bus side (pipeline thread)

    def _is_history(self, alert: Alert) -> bool:
        try:
            live_from = self.live_from_ms()
        except Exception:
            return False
        return live_from is not None and alert.ts_event_ms < live_from

    def _on_alerts(self, alerts: Sequence[Alert]) -> None:
        now = self.clock.now_ms()
        flags = [self._is_history(a) for a in alerts]
        self._submit([alert_item(a, now, h) for a, h in zip(alerts, flags)], list(alerts), flags)

    def _on_trade(self, event: PaperTradeEvent) -> None:
        self._submit([trade_item(event, self.clock.now_ms())], [], [])

    def _on_notice(self, gap: FeedGap) -> None:
        if not notices.gap_worth_telling(gap, self.settings.notices):
            self.gaps_ignored += 1
            return
        self.gaps_told += 1
        self._submit([notice_item(gap, self.clock.now_ms())], [], [])

    def _submit(self, items: list[OutboxItem], alerts: list[Alert], history: list[bool]) -> None:
        loop = self._loop
        if loop is not None and self._ready.is_set():
            try:
                loop.call_soon_threadsafe(self._ingest, items, alerts, history)
                return
            except RuntimeError:
                pass  # the loop closed between the check and the call
        conn = connect(self.db_path)
        try:
            migrate(conn)
            with conn:
                conn.executescript(OUTCOME_SCHEMA)
                insert(conn, items)
                self._register(conn, alerts, history)
            self.written_direct += len(items)
        finally:
            conn.close()

    def _register(self, conn: Any, alerts: list[Alert], history: list[bool]) -> None:
        now = self.clock.now_ms()
        for flag in (False, True):
            group = [a for a, h in zip(alerts, history) if h is flag]
            if group:
                register_lines(conn, group, now, flag)

    # ------------------------------------------------------------------ loop side

    def _ingest(self, items: list[OutboxItem], alerts: list[Alert], history: list[bool]) -> None:
        assert self.outbox is not None
        try:
            self.outbox.add(items, also=lambda conn: self._register(conn, alerts, history))
            self.accepted += len(items)
            self.history_lines += sum(history)
        except Exception:
            self.errors += 1
            log.exception("outbox write failed for %d item(s)", len(items))
            return
        live = [a for a, h in zip(alerts, history) if not h]
        if live and self.executor is not None:
            self.executor.on_alerts(live)
        self._wake()

    def publish_outcomes(self, outcomes: list[Outcome]) -> None:
        """Called on the loop by the tracker: each new stage is an outbox item (relay, webhook)."""
        assert self.outbox is not None
        now = self.clock.now_ms()
        try:
            items = [outcome_item({**o.to_dict(), "event_id": o.event_id, "stage": o.stage}, now,
                                  self.outbox.event_is_history(o.event_id)) for o in outcomes]
            self.outbox.add(items)
        except Exception:
            self.errors += 1
            log.exception("outbox write failed for %d outcome(s)", len(outcomes))
            return
        self._notes.clear()
        self._wake()

    def _wake(self) -> None:
        for sink in self._sinks:
            sink.wake.set()

    # ------------------------------------------------------------------ health

    def health(self) -> dict[str, Any]:
        """Per sink: state, backlog, sent, failed, last error (never a full webhook URL or a token)."""
        out: dict[str, Any] = {
            "enabled": True,
            "running": self._loop is not None and self._ready.is_set() and self._thread is not None,
            "outbox": {"accepted": self.accepted, "written_direct": self.written_direct, "errors": self.errors,
                       "history_lines": self.history_lines},
            "notices": {"feed_gaps_told": self.gaps_told, "feed_gaps_too_short": self.gaps_ignored},
        }
        out["discord"] = self.discord.health() if self.discord is not None else {"state": "disabled (no webhook URL)"}
        out["telegram"] = self.telegram.health() if self.telegram is not None else {"state": "disabled (no bot token)"}
        out["webhook"] = self.webhook.health() if self.webhook is not None else {"state": "disabled (no URL)"}
        if self.relay_sink is not None:
            out["relay"] = self.relay_sink.health()
        elif self.relay is not None:
            out["relay"] = self.relay.health()
        else:
            out["relay"] = {"state": "disabled"}
        out["paper_trading"] = self.executor.health() if self.executor is not None else {"state": "disabled"}
        out["outcomes"] = self.tracker.health() if self.tracker is not None else {"state": "disabled"}
        if self.charts is not None:
            out["charts"] = self.charts.health()
        return out
