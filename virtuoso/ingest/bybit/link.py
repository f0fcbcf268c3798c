"""One supervised Bybit public linear connection: its pybit stream, its topics, its counters.

The source runs one :class:`Link` per connection of its
:class:`~virtuoso.ingest.bybit.plan.SubscriptionPlan`, each under its own
:class:`~virtuoso.ingest.bybit.supervisor.Supervisor`. Every frame is decoded here
(:func:`~virtuoso.ingest.bybit.frames.decode_frame`) and emitted with ``clock.now_ns()``; control
frames (subscribe acks, pongs) are counted. Topics can be added and dropped while it runs
(listings, delistings, order-book focus): sent at once when connected, and resubscribed after
every reconnect.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any, Callable, Sequence

import orjson

from virtuoso.config import Settings
from virtuoso.domain.clock import Clock
from virtuoso.ingest.base import RawEmit
from virtuoso.ingest.bybit.frames import decode_frame
from virtuoso.ingest.bybit.ws import LinearPublicStream

log = logging.getLogger(__name__)

_RATE_WINDOW_S = 10


class Link:
    """One supervised connection: owns its pybit stream and sees every frame (``StreamListener``)."""

    def __init__(self, settings: Settings, clock: Clock, emit_ref: list[RawEmit | None], wake: Callable[[], None],
                 topics: Sequence[str] = (), index: int = 0) -> None:
        b = settings.bybit
        self.index = index
        self._clock = clock
        self._emit_ref = emit_ref
        self._wake = wake
        self.topics: list[str] = list(topics)
        self._sub_lock = threading.Lock()  # connect+subscribe and live (un)subscribes never interleave
        self.url = b.ws_url
        self._ping_interval_s = max(2, int(b.ping_interval_s))
        self._ping_timeout_s = max(1, min(int(b.ping_interval_s) - 1, 10))
        self._stream: LinearPublicStream | None = None
        self._lock = threading.Lock()
        self.messages = 0
        self.data_messages = 0
        self.malformed = 0
        self.emit_errors = 0
        self.pongs = 0
        self.acked: set[str] = set()
        self.rejected: dict[str, str] = {}
        # Subscribed topics only: a frame on any other topic is counted, never given a row, so a
        # server (or a bug) sending endless new topic names cannot grow health without bound.
        self._subscribed: frozenset[str] = frozenset(self.topics)
        self._last_by_topic: dict[str, int] = {}
        self.unsubscribed_topic_messages = 0
        self._last_data_mono: float | None = None
        self._last_data_ms: int | None = None
        self._first_since_connect: int | None = None
        self._down_cause: str | None = None
        self._rate: deque[tuple[int, int]] = deque(maxlen=_RATE_WINDOW_S + 2)  # (second, count)

    # ------------------------------------------------------------------ Link

    def connect(self) -> None:
        with self._lock:
            self._first_since_connect = None
            self.acked.clear()
        with self._sub_lock:
            if self._stream is None:
                self._stream = LinearPublicStream(
                    self.url, self.topics, self, ping_interval_s=self._ping_interval_s, ping_timeout_s=self._ping_timeout_s
                )
            self._stream.connect(self.topics)
        self._down_cause = None  # late reports from the previous socket are not this one's

    def subscribe(self, topics: Sequence[str]) -> None:
        """Add ``topics``: sent now when connected; every later connect subscribes them too."""
        self._change("subscribe", [t for t in topics if t not in self.topics])

    def unsubscribe(self, topics: Sequence[str]) -> None:
        """Drop ``topics``: unsubscribed now when connected, and not resubscribed after a reconnect."""
        gone = [t for t in topics if t in self.topics]
        self._change("unsubscribe", gone)
        with self._lock:
            for t in gone:
                self.acked.discard(t)
                self._last_by_topic.pop(t, None)

    def _change(self, op: str, topics: list[str]) -> None:
        if not topics:
            return
        with self._sub_lock:
            if op == "subscribe":
                self.topics += topics
            else:
                self.topics = [t for t in self.topics if t not in set(topics)]
            self._subscribed = frozenset(self.topics)
            stream = self._stream
            if stream is None or not stream.is_connected():
                return
            stream._topics = list(self.topics)  # a reconnect by pybit's own path would use these
            try:
                stream.send_op(op, topics)
            except Exception as exc:  # the socket just went: the next connect subscribes the new list
                log.info("bybit %s on connection %d failed: %s", op, self.index, exc)

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()

    def is_connected(self) -> bool:
        return self._stream is not None and self._stream.is_connected()

    def last_data_mono(self) -> float | None:
        if not self.topics:  # nothing subscribed (every symbol on it delisted): quiet is not stale
            return time.monotonic()
        return self._last_data_mono

    def last_data_ms(self) -> int | None:
        return self._last_data_ms

    def first_data_ms_since_connect(self) -> int | None:
        return self._first_since_connect

    def take_down_cause(self) -> str | None:
        cause, self._down_cause = self._down_cause, None
        return cause

    # ------------------------------------------------------------------ StreamListener

    def on_open(self) -> None:
        log.debug("bybit socket open: %s", self.url)

    def on_down(self, cause: str) -> None:
        if self._down_cause is None or self._down_cause == "connection closed":
            self._down_cause = cause
        self._wake()

    def on_frame(self, raw: str | bytes) -> None:
        ts_recv_ns = self._clock.now_ns()
        self.messages += 1
        # Emitted as a frame: the parser's fast path decodes it straight into typed rows.
        msg = decode_frame(raw)
        if msg is None:
            self.malformed += 1
            return
        topic = msg.envelope.topic
        if isinstance(topic, str):
            ts_ms = ts_recv_ns // 1_000_000
            self.data_messages += 1
            self._last_data_mono = time.monotonic()
            self._last_data_ms = ts_ms
            with self._lock:
                if topic in self._subscribed:
                    self._last_by_topic[topic] = ts_ms
                else:
                    self.unsubscribed_topic_messages += 1
                if self._first_since_connect is None:
                    self._first_since_connect = ts_ms
                sec = ts_ms // 1000
                if self._rate and self._rate[-1][0] == sec:
                    self._rate[-1] = (sec, self._rate[-1][1] + 1)
                else:
                    self._rate.append((sec, 1))
        else:
            try:
                self._control(orjson.loads(raw))
            except orjson.JSONDecodeError:  # msgspec read it; orjson may still refuse (lone surrogates)
                self.malformed += 1
                return
        emit = self._emit_ref[0]
        if emit is None:
            return
        try:
            emit(msg, ts_recv_ns)
        except Exception:  # the engine's emit promises not to raise; a bug must not stop the stream
            self.emit_errors += 1
            if self.emit_errors == 1 or self.emit_errors % 1000 == 0:
                log.exception("emit failed (%d so far)", self.emit_errors)

    def _control(self, msg: dict[str, Any]) -> None:
        if msg.get("ret_msg") == "pong" or msg.get("op") == "pong":
            self.pongs += 1
            return
        if msg.get("op") != "subscribe":  # unsubscribe acks need nothing
            return
        stream = self._stream
        args = stream.pending_req_ids.get(str(msg.get("req_id")), []) if stream is not None else []
        with self._lock:
            if msg.get("success") is True:
                self.acked.update(args)
            else:
                for a in args or ["?"]:
                    self.rejected[a] = str(msg.get("ret_msg"))[:200]
                log.error("bybit rejected subscription %s: %s", args, msg.get("ret_msg"))

    # ------------------------------------------------------------------ health

    def last_data_by_topic(self) -> dict[str, int]:
        """Receive time (clock ms) of each subscribed topic's newest data message."""
        with self._lock:
            return dict(self._last_by_topic)

    def stats(self) -> dict[str, Any]:
        now_ms = self._clock.now_ms()
        with self._lock:
            ages = {t: round((now_ms - ms) / 1000, 3) for t, ms in sorted(self._last_by_topic.items())}
            now_s = now_ms // 1000
            recent = sum(n for s, n in self._rate if now_s - _RATE_WINDOW_S <= s < now_s)
            acked, rejected = len(self.acked), dict(self.rejected)
        return {
            "connection": self.index,
            "connected": self.is_connected(),
            "url": self.url,
            "topics": len(self.topics),
            "topics_acked": acked,
            "topics_rejected": rejected,
            "last_message_age_s": ages,
            "unsubscribed_topic_messages": self.unsubscribed_topic_messages,
            "messages": self.messages,
            "data_messages": self.data_messages,
            "messages_per_s": round(recent / _RATE_WINDOW_S, 2),
            "malformed_frames": self.malformed,
            "emit_errors": self.emit_errors,
            "pongs": self.pongs,
        }
