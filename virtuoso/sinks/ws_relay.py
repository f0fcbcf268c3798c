"""WebSocket relay: fans alerts, market snapshots and paper trades out to subscribed clients.

Protocol in :mod:`virtuoso.alerting.relay_protocol` and docs/delivery.md. Robustness rules:

- a frame larger than ``max_frame_bytes`` closes the connection with 1009 (``max_size``);
- connections beyond ``max_clients`` are closed at once with 1013 and a reason;
- bad JSON, unknown ops or channels and a wrong token get a ``control``/``error`` message and the
  connection stays open;
- each client has a bounded queue drained by its own writer task; a message is encoded once and
  the same text is queued for every subscriber. When a client's queue is full (it stopped
  reading), it is dropped with close code 1008 and reason ``slow consumer`` instead of slowing the
  others.

Alerts and trades reach :meth:`RelayServer.broadcast` from the outbox worker (:class:`RelayOutboxSink`),
so what was published while the relay was down is sent when it comes back.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import Any, Callable

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from virtuoso.alerting import relay_protocol as proto
from virtuoso.alerting.outbox import Outbox
from virtuoso.config import RelaySettings, SettingsError
from virtuoso.domain.clock import Clock

log = logging.getLogger(__name__)

SINK = "relay"
CLOSE_TIMEOUT_S = 1.0


def check_relay_settings(settings: RelaySettings) -> None:
    """Refuse to expose the relay beyond loopback without a token."""
    if not settings.enabled or settings.token is not None:
        return
    host = settings.host.strip()
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise SettingsError(
            f"VIRTUOSO_RELAY__TOKEN: required when VIRTUOSO_RELAY__HOST is not a loopback address (got {host!r}); "
            "set a token or bind 127.0.0.1"
        )


class _Client:
    __slots__ = ("ws", "queue", "channels", "sent", "writer")

    def __init__(self, ws: ServerConnection, queue_max: int) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=queue_max)
        self.channels: set[str] = set()
        self.sent = 0
        self.writer: asyncio.Task[None] | None = None


class RelayServer:
    """The ``websockets`` server; all methods run on the delivery thread's event loop."""

    def __init__(self, settings: RelaySettings, clock: Clock) -> None:
        check_relay_settings(settings)
        self.settings = settings
        self.clock = clock
        self._token = settings.token.get_secret_value() if settings.token is not None else None
        self._server: Server | None = None
        self._clients: set[_Client] = set()
        self.port: int | None = None
        self.state = "stopped"
        self.last_error: str | None = None
        self.connections = 0
        self.refused_full = 0
        self.dropped_slow = 0
        self.protocol_errors = 0
        self.broadcasts = 0

    async def start(self) -> None:
        """Bind and listen; ``port`` is the bound port (useful with port 0)."""
        s = self.settings
        self._server = await serve(
            self._handle, s.host, s.port, max_size=s.max_frame_bytes, close_timeout=CLOSE_TIMEOUT_S,
            max_queue=16, compression=None,
        )
        sock = next(iter(self._server.sockets))
        self.port = int(sock.getsockname()[1])
        self.state = "listening"
        log.info("relay listening on ws://%s:%d", s.host, self.port)

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close(close_connections=True)
        try:
            await asyncio.wait_for(self._server.wait_closed(), 2.0)
        except asyncio.TimeoutError:
            pass
        self.state = "stopped"

    @property
    def clients(self) -> int:
        return len(self._clients)

    def subscribers(self, channel: str) -> int:
        return sum(1 for c in self._clients if channel in c.channels)

    def health(self) -> dict[str, Any]:
        return {
            "state": self.state, "host": self.settings.host, "port": self.port, "clients": len(self._clients),
            "max_clients": self.settings.max_clients, "connections": self.connections,
            "refused_full": self.refused_full, "dropped_slow": self.dropped_slow,
            "protocol_errors": self.protocol_errors, "broadcasts": self.broadcasts,
            "token_required": self._token is not None, "last_error": self.last_error,
        }

    def broadcast(self, channel: str, type_: str, data: Any, ts_ms: int | None = None) -> int:
        """Queue one message for every subscriber of ``channel``; returns how many got it."""
        text = proto.encode(channel, type_, self.clock.now_ms() if ts_ms is None else ts_ms, data)
        self.broadcasts += 1
        n = 0
        for c in list(self._clients):
            if channel in c.channels and self._offer(c, text):
                n += 1
        return n

    def _offer(self, client: _Client, text: str) -> bool:
        try:
            client.queue.put_nowait(text)
            return True
        except asyncio.QueueFull:
            self._drop_slow(client)
            return False

    def _drop_slow(self, client: _Client) -> None:
        if client not in self._clients:
            return
        self._clients.discard(client)
        self.dropped_slow += 1
        log.warning("relay: dropping a client that stopped reading (%d queued)", client.queue.qsize())
        if client.writer is not None:
            client.writer.cancel()
        asyncio.get_running_loop().create_task(
            client.ws.close(1008, f"slow consumer: {client.queue.maxsize} messages queued")
        )

    async def _writer(self, client: _Client) -> None:
        try:
            while True:
                text = await client.queue.get()
                await client.ws.send(text)
                client.sent += 1
        except (ConnectionClosed, asyncio.CancelledError):
            return

    async def _handle(self, ws: ServerConnection) -> None:
        if len(self._clients) >= self.settings.max_clients:
            self.refused_full += 1
            await ws.close(1013, f"server full: {self.settings.max_clients} clients")
            return
        client = _Client(ws, self.settings.client_queue_max)
        self._clients.add(client)
        self.connections += 1
        client.writer = asyncio.get_running_loop().create_task(self._writer(client))
        try:
            async for frame in ws:
                self._on_frame(client, frame)
        except ConnectionClosed:
            pass
        finally:
            self._clients.discard(client)
            if client.writer is not None:
                client.writer.cancel()

    def _on_frame(self, client: _Client, frame: str | bytes) -> None:
        req = proto.parse_request(frame, self._token)
        if isinstance(req, proto.ProtocolError):
            self.protocol_errors += 1
        elif req.op == "subscribe":
            client.channels.update(req.channels)
        elif req.op == "unsubscribe":
            client.channels.difference_update(req.channels)
        subscribed = tuple(c for c in proto.CHANNELS if c in client.channels)
        self._offer(client, proto.reply(req, self.clock.now_ms(), subscribed))


class RelayOutboxSink:
    """Moves outbox items to the relay: alerts on ``alerts``, paper trades on ``trade_alerts``."""

    name = SINK

    def __init__(self, relay: RelayServer, outbox: Outbox) -> None:
        self.relay = relay
        self.outbox = outbox
        self.wake = asyncio.Event()
        self.stopping = False
        self.sent = 0
        self.backlog = 0

    def health(self) -> dict[str, Any]:
        return {**self.relay.health(), "backlog": self.backlog, "sent": self.sent, "failed": 0}

    async def run(self) -> None:
        while True:
            items = self.outbox.pending(SINK, 500)
            if items:
                for it in items:
                    if it.kind == "alert":
                        self.relay.broadcast("alerts", "alert", it.payload)
                    else:
                        self.relay.broadcast("trade_alerts", f"trade_{it.payload.get('action', 'event')}", it.payload)
                    await asyncio.sleep(0)  # let client writers drain between messages of a burst
                self.outbox.mark(SINK, [it.key for it in items], "sent")
                self.sent += len(items)
                self.backlog = self.outbox.backlog(SINK)
                continue
            self.backlog = 0
            if self.stopping:
                return
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), 1.0)
            except asyncio.TimeoutError:
                pass


async def publish_market(relay: RelayServer, snapshots: Callable[[], dict[str, Any]],
                         scores: Callable[[], dict[str, float]], interval_s: float = 1.0) -> None:
    """Every second, one ``market`` message per symbol (skipped while nobody subscribes)."""
    while True:
        await asyncio.sleep(interval_s)
        if relay.subscribers("market") == 0:
            continue
        try:
            snaps = snapshots()
            comp = scores()
        except Exception as exc:  # the engine may be starting or stopping
            log.debug("market snapshot failed: %s", exc)
            continue
        for symbol, snap in snaps.items():
            data = snap.to_dict() if hasattr(snap, "to_dict") else dict(snap)
            data["composite_score"] = comp.get(symbol)
            relay.broadcast("market", "snapshot", data)
