"""Delivery service: the outbox, Discord, the WebSocket relay and the paper executor on one side thread.

Runs its own thread with its own asyncio loop so ingestion never waits for it. Bus subscribers
(called on the pipeline thread) only hand items to the loop with ``call_soon_threadsafe``; the loop
commits them to the outbox in one transaction, then wakes each sink. Each sink drains the outbox
in its own task and records its own delivery state, so a failing Discord never holds back the relay
or the executor. See docs/delivery.md for the guarantees.

If the loop is not running (before start, after stop), a subscriber writes the outbox directly so
nothing published is lost; it is delivered on the next start.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any, Sequence

from virtuoso.alerting.bus import AlertBus
from virtuoso.alerting.outbox import Outbox, OutboxItem, alert_item, connect, insert, trade_item
from virtuoso.config import Settings
from virtuoso.domain.alerts import Alert
from virtuoso.domain.clock import Clock
from virtuoso.domain.trades import PaperTradeEvent
from virtuoso.sinks.ws_relay import check_relay_settings

log = logging.getLogger(__name__)

STOP_GRACE_S = 3.0
START_TIMEOUT_S = 15.0


class DeliveryService:
    """Owns the delivery thread; ``health()`` is safe to call from any thread."""

    def __init__(self, settings: Settings, bus: AlertBus, view: Any, db_path: Path, clock: Clock) -> None:
        check_relay_settings(settings.relay)
        self.settings = settings
        self.bus = bus
        self.view = view
        self.db_path = Path(db_path)
        self.clock = clock
        self.outbox: Outbox | None = None
        self.discord: Any = None
        self.relay: Any = None
        self.relay_sink: Any = None
        self.executor: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._stop_requested: asyncio.Event | None = None
        self._sinks: list[Any] = []
        self._subscribed = False
        self.accepted = 0
        self.written_direct = 0
        self.errors = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> "DeliveryService":
        """Start the thread and wait until the relay is bound (so ``relay_port`` is known)."""
        if self._thread is not None:
            return self
        if not self._subscribed:
            self.bus.subscribe_alerts("delivery", self._on_alerts)
            self.bus.subscribe_trades("delivery", self._on_trade)
            self._subscribed = True
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
            return
        if self._stop_requested is not None:
            try:
                loop.call_soon_threadsafe(self._stop_requested.set)
            except RuntimeError:
                pass
        thread.join(timeout_s)
        self._thread = None

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
            finally:
                self._loop = None
                loop.close()

    async def _main(self) -> None:
        self._stop_requested = asyncio.Event()
        self.outbox = Outbox(self.db_path, self.clock)
        tasks: list[asyncio.Task[Any]] = []
        try:
            await self._build()
            for sink in self._sinks:
                tasks.append(asyncio.create_task(sink.run(), name=f"sink-{sink.name}"))
            side: list[asyncio.Task[Any]] = []
            if self.relay is not None:
                from virtuoso.sinks.ws_relay import publish_market

                side.append(asyncio.create_task(publish_market(self.relay, self.view.snapshots, self.view.composite_scores)))
            if self.executor is not None:
                side.append(asyncio.create_task(self._run_executor()))
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
            if self.discord is not None:
                await self.discord.client.aclose()
            self.outbox.close()

    async def _build(self) -> None:
        s = self.settings
        assert self.outbox is not None
        if s.discord.webhook_url is not None:
            from virtuoso.sinks.discord import DiscordClient, DiscordSink

            client = DiscordClient(s.discord.webhook_url.get_secret_value(), timeout_s=s.discord.timeout_s,
                                   max_attempts=s.discord.max_attempts)
            from virtuoso.alerting.marks import AlertMarks

            marks = AlertMarks(self.db_path)
            self.discord = DiscordSink(s.discord, client, self.outbox, self._context,
                                       is_muted=lambda alert: marks.is_muted(alert, self.clock.now_ms()))
            self.outbox.register_sink(self.discord.name)
            self._sinks.append(self.discord)
        if s.relay.enabled:
            from virtuoso.sinks.ws_relay import RelayOutboxSink, RelayServer

            self.relay = RelayServer(s.relay, self.clock)
            try:
                await self.relay.start()
            except OSError as exc:  # port taken: the engine runs on, health shows why
                self.relay.state = "error"
                self.relay.last_error = f"cannot listen on {s.relay.host}:{s.relay.port}: {exc.strerror or exc}"
                log.error("relay: %s", self.relay.last_error)
            else:
                self.relay_sink = RelayOutboxSink(self.relay, self.outbox)
                self.outbox.register_sink(self.relay_sink.name)
                self._sinks.append(self.relay_sink)
        if s.trading.enabled:
            from virtuoso.trading.executor import PaperExecutor

            self.executor = PaperExecutor(s.trading, self.view, self.outbox.conn, self.clock, self.bus.publish_trade)

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

    def _context(self, symbol: str) -> tuple[Any, float | None, bool]:
        """Snapshot, composite score and simulated flag for a Discord message."""
        try:
            snap = self.view.snapshots().get(symbol)
            comp = self.view.composite_scores().get(symbol)
            sim = bool(self.view.source_info().simulated)
        except Exception:
            return None, None, False
        return snap, comp, sim

    # ------------------------------------------------------------------ bus side (pipeline thread)

    def _on_alerts(self, alerts: Sequence[Alert]) -> None:
        now = self.clock.now_ms()
        self._submit([alert_item(a, now) for a in alerts], list(alerts))

    def _on_trade(self, event: PaperTradeEvent) -> None:
        self._submit([trade_item(event, self.clock.now_ms())], [])

    def _submit(self, items: list[OutboxItem], alerts: list[Alert]) -> None:
        loop = self._loop
        if loop is not None and self._ready.is_set():
            try:
                loop.call_soon_threadsafe(self._ingest, items, alerts)
                return
            except RuntimeError:
                pass  # the loop closed between the check and the call
        conn = connect(self.db_path)
        try:
            from virtuoso.alerting.outbox import SCHEMA

            with conn:
                conn.executescript(SCHEMA)
                insert(conn, items)
            self.written_direct += len(items)
        finally:
            conn.close()

    # ------------------------------------------------------------------ loop side

    def _ingest(self, items: list[OutboxItem], alerts: list[Alert]) -> None:
        assert self.outbox is not None
        try:
            self.outbox.add(items)
            self.accepted += len(items)
        except Exception:
            self.errors += 1
            log.exception("outbox write failed for %d item(s)", len(items))
            return
        if alerts and self.executor is not None:
            self.executor.on_alerts(alerts)
        self._wake()

    def _wake(self) -> None:
        for sink in self._sinks:
            sink.wake.set()

    # ------------------------------------------------------------------ health

    def health(self) -> dict[str, Any]:
        """Per sink: state, backlog, sent, failed, last error (never the full webhook URL)."""
        out: dict[str, Any] = {
            "enabled": True,
            "running": self._loop is not None and self._ready.is_set() and self._thread is not None,
            "outbox": {"accepted": self.accepted, "written_direct": self.written_direct, "errors": self.errors},
        }
        out["discord"] = self.discord.health() if self.discord is not None else {"state": "disabled (no webhook URL)"}
        if self.relay_sink is not None:
            out["relay"] = self.relay_sink.health()
        elif self.relay is not None:
            out["relay"] = self.relay.health()
        else:
            out["relay"] = {"state": "disabled"}
        out["paper_trading"] = self.executor.health() if self.executor is not None else {"state": "disabled"}
        return out
