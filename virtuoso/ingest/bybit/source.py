"""The live Bybit source: pybit's public linear WebSocket for the watchlist, supervised, backfilled.

``BybitSource.run(emit, stop)`` is the engine's ingestion thread: it runs the
:class:`~virtuoso.ingest.bybit.supervisor.Supervisor` loop there, while pybit's own threads read
the socket. Every frame (Bybit's raw snapshot/delta message, never pybit's merged and reused
dict) is emitted as a :class:`~virtuoso.ingest.bybit.frames.Frame`, its envelope decoded here and
the rest by the parser's fast path, with ``clock.now_ns()``; frames that are not JSON objects are
counted as malformed and skipped. A worker thread backfills 1-minute
history over REST at start and after each gap, and hands it to ``on_history``; once a gap's
backfill has run, ``on_gap`` is told (a :class:`~virtuoso.domain.notices.FeedGap`: which symbols
were unmonitored, for how long, and whether the gap was backfilled), so delivery can say so.

``probe(settings, timeout_s)`` answers "is Bybit's public WebSocket there?" for
``VIRTUOSO_SOURCE=auto``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from typing import Any, Callable

import orjson

from virtuoso.config import Settings
from virtuoso.domain.bars import Bar
from virtuoso.domain.clock import Clock
from virtuoso.domain.notices import FeedGap
from virtuoso.ingest.base import RawEmit
from virtuoso.ingest.bybit.backfill import MINUTE_MS, Backfiller
from virtuoso.ingest.bybit.frames import decode_frame
from virtuoso.ingest.bybit.rest import BybitRest
from virtuoso.ingest.bybit.supervisor import Backoff, Gap, Supervisor
from virtuoso.ingest.bybit.topics import topics_for
from virtuoso.ingest.bybit.ws import LinearPublicStream

log = logging.getLogger(__name__)

_RATE_WINDOW_S = 10


class _Link:
    """The supervised link: owns the pybit stream and sees every frame (``StreamListener``)."""

    def __init__(self, settings: Settings, clock: Clock, emit_ref: list[RawEmit | None], wake: Callable[[], None]) -> None:
        b = settings.bybit
        self._clock = clock
        self._emit_ref = emit_ref
        self._wake = wake
        self.topics = topics_for(settings.symbols, b.orderbook_depth)
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
        self._last_by_topic: dict[str, int] = {}
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
        if self._stream is None:
            self._stream = LinearPublicStream(
                self.url, self.topics, self, ping_interval_s=self._ping_interval_s, ping_timeout_s=self._ping_timeout_s
            )
        self._stream.connect()
        self._down_cause = None  # late reports from the previous socket are not this one's

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()

    def is_connected(self) -> bool:
        return self._stream is not None and self._stream.is_connected()

    def last_data_mono(self) -> float | None:
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
                self._last_by_topic[topic] = ts_ms
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
        if msg.get("op") != "subscribe":
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

    def stats(self) -> dict[str, Any]:
        now_ms = self._clock.now_ms()
        with self._lock:
            ages = {t: round((now_ms - ms) / 1000, 3) for t, ms in sorted(self._last_by_topic.items())}
            now_s = now_ms // 1000
            recent = sum(n for s, n in self._rate if now_s - _RATE_WINDOW_S <= s < now_s)
            acked, rejected = len(self.acked), dict(self.rejected)
        return {
            "connected": self.is_connected(),
            "url": self.url,
            "topics": len(self.topics),
            "topics_acked": acked,
            "topics_rejected": rejected,
            "last_message_age_s": ages,
            "messages": self.messages,
            "data_messages": self.data_messages,
            "messages_per_s": round(recent / _RATE_WINDOW_S, 2),
            "malformed_frames": self.malformed,
            "emit_errors": self.emit_errors,
            "pongs": self.pongs,
        }


class BybitSource:
    """Live Bybit v5 public linear data for ``settings.symbols`` (see the module docstring)."""

    name = "bybit"
    simulated = False
    # pybit's thread delivers frames: blocking it would stall the socket until Bybit drops it.
    can_block = False

    def __init__(self, settings: Settings, clock: Clock, *,
                 make_rest: Callable[[Callable[[float], None]], BybitRest] | None = None,
                 on_history: Callable[[list[Bar]], None] | None = None,
                 on_gap: Callable[[FeedGap], None] | None = None) -> None:
        """``make_rest(sleep)`` builds the REST client for backfills (the composition root passes
        it, :func:`virtuoso.app.build.build_bybit`); with it and ``on_history`` the source
        backfills at start and after each gap. ``sleep`` is the source's own: it ends on stop."""
        self._settings = settings
        self._clock = clock
        self._emit_ref: list[RawEmit | None] = [None]
        b = settings.bybit
        self._supervisor: Supervisor
        self._link = _Link(settings, clock, self._emit_ref, wake=lambda: self._supervisor.wake())
        self._supervisor = Supervisor(
            self._link, clock, stale_after_s=b.stale_after_s,
            backoff=Backoff(b.backoff_initial_s, b.backoff_max_s), on_gap_closed=self._on_gap,
        )
        self._on_history = on_history
        self._stop = threading.Event()
        self._jobs: queue.Queue[tuple[int, int, str]] = queue.Queue()
        self._on_feed_gap = on_gap
        self._gaps_lock = threading.Lock()
        self._gaps_to_tell: list[Gap] = []  # closed gaps whose backfill has not run yet
        self._backfiller: Backfiller | None = None
        self._rest: BybitRest | None = None
        if on_history is not None and make_rest is not None and b.backfill_minutes > 0:
            self._rest = make_rest(self._sleep)
            self._backfiller = Backfiller(self._rest, settings.symbols, on_history)

    def run(self, emit: RawEmit, stop: threading.Event) -> None:
        """Stream until ``stop`` is set (the supervisor loop runs in the caller's thread)."""
        self._emit_ref[0] = emit
        self._stop = stop
        worker = None
        if self._backfiller is not None:
            now = self._clock.now_ms()
            self._jobs.put((now - self._settings.bybit.backfill_minutes * MINUTE_MS, now, "start"))
            worker = threading.Thread(target=self._backfill_loop, name="virtuoso-bybit-backfill", daemon=True)
            worker.start()
        try:
            self._supervisor.run(stop)
        finally:
            self._emit_ref[0] = None
            if worker is not None:
                worker.join(5.0)
            if self._rest is not None:
                self._rest.close()

    # ------------------------------------------------------------------ backfill

    def _on_gap(self, gap: Gap) -> None:
        if self._backfiller is None:
            self._tell_gaps([gap], 0, "backfill is off")
            return
        with self._gaps_lock:
            self._gaps_to_tell.append(gap)
        limit = self._settings.bybit.backfill_minutes * MINUTE_MS
        end = self._clock.now_ms()
        start = max(gap.start_ms - MINUTE_MS, end - limit)
        self._jobs.put((start, end, f"gap: {gap.cause}"))

    def _sleep(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise InterruptedError("source stopping")

    def _backfill_loop(self) -> None:
        assert self._backfiller is not None
        while not self._stop.is_set():
            try:
                start, end, reason = self._jobs.get(timeout=0.2)
            except queue.Empty:
                continue
            while True:  # merge queued windows into one run
                try:
                    s2, e2, r2 = self._jobs.get_nowait()
                except queue.Empty:
                    break
                start, end, reason = min(start, s2), max(end, e2), r2
            with self._gaps_lock:
                gaps, self._gaps_to_tell = self._gaps_to_tell, []
            bars, error = 0, ""
            try:
                bars = self._backfiller.run(start, end, reason, self._stop)
                progress = self._backfiller.progress()
                if progress.get("state") == "failed":
                    error = "; ".join(progress.get("errors") or [])[-200:] or "backfill failed"
            except InterruptedError:
                return
            except Exception as exc:
                log.exception("backfill failed")
                error = f"{type(exc).__name__}: {exc}"[:200]
            self._tell_gaps(gaps, bars, error)

    def _tell_gaps(self, gaps: list[Gap], bars: int, error: str) -> None:
        """Tell ``on_gap`` about closed gaps and how their backfill went (never raises)."""
        if self._on_feed_gap is None:
            return
        for gap in gaps:
            if gap.end_ms is None:
                continue
            try:
                self._on_feed_gap(FeedGap(gap.start_ms, gap.end_ms, tuple(self._settings.symbols), gap.cause,
                                          "bybit", bars, error))
            except Exception:
                log.exception("gap notice failed")

    # ------------------------------------------------------------------ health

    def health(self) -> dict[str, Any]:
        """Connection, per-topic message ages, rates, reconnects, gaps and backfill progress."""
        sup = self._supervisor
        out = self._link.stats()
        out.update(
            {
                "reconnects": sup.reconnects,
                "connect_attempts": sup.attempts,
                "next_backoff_s": round(sup.next_delay_s, 3),
                "last_error": sup.last_error,
                "gaps": [g.to_dict() for g in sup.gaps()[-20:]],
                "backfill": self._backfiller.progress() if self._backfiller is not None else {"state": "off"},
            }
        )
        if self._rest is not None:
            out["rest"] = {"calls": self._rest.calls, "retries": self._rest.retries, "last_error": self._rest.last_error}
        return out


def probe(settings: Settings, timeout_s: float) -> str | None:
    """None when Bybit's public WebSocket answers a ping within ``timeout_s``, else why not.

    Connects with the ``websockets`` client (not pybit, whose connect has no timeout), sends
    Bybit's text ping and waits for any JSON reply.
    """
    from websockets.exceptions import InvalidHandshake, InvalidURI
    from websockets.sync.client import connect

    url = settings.bybit.ws_url
    deadline = time.monotonic() + timeout_s
    try:
        with connect(url, open_timeout=timeout_s, close_timeout=1) as ws:
            ws.send('{"op":"ping","req_id":"virtuoso-probe"}')
            reply = ws.recv(timeout=max(0.05, deadline - time.monotonic()))
        msg = orjson.loads(reply)
        return None if isinstance(msg, dict) else f"unexpected reply from {url}"
    except ConnectionRefusedError:
        return f"connection refused at {url}"
    except TimeoutError:
        return f"timed out after {timeout_s:g} s at {url}"
    except InvalidHandshake as exc:
        return f"handshake failed at {url}: {exc}"[:200]
    except InvalidURI:
        return f"invalid URL {url}"
    except orjson.JSONDecodeError:
        return f"non-JSON reply from {url}"
    except OSError as exc:
        return f"{type(exc).__name__} at {url}: {exc}"[:200]
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:200]
