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

Alerts, outcomes, notices and trades reach the relay from the outbox worker
(:class:`RelayOutboxSink`), so what was published while the relay was down is sent when it comes
back, each with its outbox ``seq``. A client that subscribes with ``since`` or ``after_seq`` gets
what it missed from the outbox first (:meth:`RelayServer._resume`): everything up to the last
position the worker has broadcast (``last_seq``) comes from the store, everything after it comes
live. Both run on the one event loop and nothing awaits between reading the store and joining the
live stream, so the seam has no gap and no duplicate. Lines raised on warm-up history are never
broadcast to everyone; only clients that asked for history (a subscription with ``since``) get them.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any, Callable

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from virtuoso.alerting import relay_protocol as proto
from virtuoso.alerting.outbox import Outbox, OutboxItem
from virtuoso.config import RelaySettings, SettingsError, relay_problem
from virtuoso.domain.clock import Clock

log = logging.getLogger(__name__)

SINK = "relay"
CLOSE_TIMEOUT_S = 1.0


def check_relay_settings(settings: RelaySettings) -> None:
    """Refuse to expose the relay beyond loopback without a token (the settings' own check, for
    settings built without validation)."""
    problem = relay_problem(settings)
    if problem is not None:
        raise SettingsError(problem)


class _Client:
    __slots__ = ("ws", "queue", "channels", "sent", "writer", "replay", "live_from", "wants_history")

    def __init__(self, ws: ServerConnection, queue_max: int) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=queue_max)
        self.channels: set[str] = set()
        self.sent = 0
        self.writer: asyncio.Task[None] | None = None
        self.replay: deque[str] = deque()  # missed messages, sent before anything queued live
        self.live_from: dict[str, int] = {}  # channel -> outbox seq after which it has been live
        self.wants_history = False


class RelayServer:
    """The ``websockets`` server; all methods run on the delivery thread's event loop."""

    def __init__(self, settings: RelaySettings, clock: Clock, outbox: Outbox | None = None) -> None:
        check_relay_settings(settings)
        self.settings = settings
        self.clock = clock
        self.outbox = outbox  # where resuming clients' missed messages come from
        self.last_seq = 0  # the newest outbox position handed to the live stream
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
        self.resumes = 0
        self.replayed = 0

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
            "resumes": self.resumes, "replayed": self.replayed, "last_seq": self.last_seq,
        }

    def broadcast(self, channel: str, type_: str, data: Any, ts_ms: int | None = None, *, seq: int | None = None,
                  history: bool = False) -> int:
        """Queue one message for every subscriber of ``channel``; returns how many got it.

        ``history`` messages go only to clients that asked for history."""
        text = proto.encode(channel, type_, self.clock.now_ms() if ts_ms is None else ts_ms, data, seq, history)
        self.broadcasts += 1
        n = 0
        for c in list(self._clients):
            if channel in c.channels and (not history or c.wants_history) and self._offer(c, text):
                n += 1
        return n

    def publish_item(self, item: OutboxItem) -> int:
        """Broadcast one outbox item and move ``last_seq`` past it (in one step: no await between)."""
        self.last_seq = max(self.last_seq, item.seq)
        channel, type_ = proto.item_route(item.kind, item.payload)
        return self.broadcast(channel, type_, item.payload, item.created_ms, seq=item.seq, history=item.history)

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
                text = client.replay.popleft() if client.replay else await client.queue.get()
                if not text:  # the wake-up of a resume: its replay is in client.replay
                    continue
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
            for c in req.channels:
                if c not in client.channels:
                    client.live_from[c] = self.last_seq
            client.channels.update(req.channels)
            if req.resumes and self.outbox is not None:
                self._resume(client, req)
                return
        elif req.op == "unsubscribe":
            client.channels.difference_update(req.channels)
            for c in req.channels:
                client.live_from.pop(c, None)
        subscribed = tuple(c for c in proto.CHANNELS if c in client.channels)
        self._offer(client, proto.reply(req, self.clock.now_ms(), subscribed))

    def _resume(self, client: _Client, req: proto.Request) -> None:
        """Queue what the client missed (from the outbox) ahead of its live stream; synchronous on
        purpose: the live stream cannot move between the read and the subscription."""
        assert self.outbox is not None
        now = self.clock.now_ms()
        subscribed = tuple(c for c in proto.CHANNELS if c in client.channels)
        after = req.after_seq or 0
        if req.since_event is not None:
            last = self.outbox.last_seq_of_event(req.since_event)
            if last is None:
                self.protocol_errors += 1
                err = proto.ProtocolError("unknown_event", f"no event {req.since_event[:40]!r} in the store", req.req_id)
                self._offer(client, proto.reply(err, now, subscribed))
                return
            after = max(after, last)
        channels = [c for c in req.channels if c in proto.REPLAY_CHANNELS]
        kinds = tuple(k for c in channels for k in proto.channel_kinds(c))
        until = max((client.live_from.get(c, self.last_seq) for c in channels), default=after)
        limit = self.settings.replay_max
        rows = self.outbox.replay(kinds, after_seq=after, since_ms=req.since_ms, until_seq=until, limit=limit + 1)
        truncated = len(rows) > limit
        texts = []
        for it in rows[:limit]:
            channel, type_ = proto.item_route(it.kind, it.payload)
            if channel in channels and it.seq <= client.live_from.get(channel, self.last_seq):
                texts.append(proto.encode(channel, type_, it.created_ms, it.payload, it.seq, it.history))
        client.wants_history = True
        self.resumes += 1
        self.replayed += len(texts)
        client.replay.append(proto.resumed(req, now, subscribed, len(texts), until, truncated))
        client.replay.extend(texts)
        try:
            client.queue.put_nowait("")  # wake the writer if it waits on the live queue
        except asyncio.QueueFull:
            self._drop_slow(client)


class RelayOutboxSink:
    """Moves outbox items to the relay: alert lines, outcomes and notices on ``alerts``, paper
    trades on ``trade_alerts``; lines on warm-up history only to clients that asked for history."""

    name = SINK

    def __init__(self, relay: RelayServer, outbox: Outbox) -> None:
        self.relay = relay
        self.outbox = outbox
        self.wake = asyncio.Event()
        self.stopping = False
        self.sent = 0
        self.history = 0
        self.backlog = 0

    def health(self) -> dict[str, Any]:
        return {**self.relay.health(), "backlog": self.backlog, "sent": self.sent, "history": self.history, "failed": 0}

    async def run(self) -> None:
        first = self.outbox.pending(SINK, 1)
        self.relay.last_seq = first[0].seq - 1 if first else self.outbox.top_seq()
        while True:
            items = self.outbox.pending(SINK, 500)
            if items:
                history = [it.key for it in items if it.history]
                for it in items:
                    self.relay.publish_item(it)
                    await asyncio.sleep(0)  # let client writers drain between messages of a burst
                self.outbox.mark(SINK, [it.key for it in items if not it.history], "sent")
                self.outbox.mark(SINK, history, "history")
                self.sent += len(items) - len(history)
                self.history += len(history)
                self.backlog = self.outbox.backlog(SINK)
                continue
            self.backlog = 0
            # nothing pending: every row up to the top is done (same loop as every insert: no race)
            self.relay.last_seq = max(self.relay.last_seq, self.outbox.top_seq())
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
