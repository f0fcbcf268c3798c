"""InfluxDB history backend: the :class:`~virtuoso.storage.base.Store` protocol over the v1 HTTP API.

Writes never wait on InfluxDB::

    write_bars / write_alerts --> memory buffer (bounded) --> writer thread --gzip /write--> InfluxDB
                                       | full, or InfluxDB down            ^
                                       v                                   | in seq order, when back
                                 SpillBuffer (SQLite, data_dir/virtuoso.db) -+

Every point gets a sequence number when it is enqueued and leaves in that order, from memory or
from the spill, so a later version of a point never lands before an earlier one. Points are
deleted from the spill only after InfluxDB acknowledged them; a re-send after a crash or a timeout
that actually succeeded is harmless because the same series and time overwrites (nothing twice).
A 4xx answer means the points are bad: they are logged and quarantined, not retried.

Reads go to InfluxDB with InfluxQL and are overlaid with points not yet written (memory and spill),
so a reader sees its own writes. When InfluxDB is unreachable, reads log a warning and return only
those pending points: what is available, never an exception into the dashboard.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from typing import Any, Sequence

from virtuoso.domain.alerts import Alert
from virtuoso.domain.bars import Bar
from virtuoso.domain.clock import Clock
from virtuoso.storage import influx_schema as schema
from virtuoso.storage.influx_http import InfluxError, InfluxRejected, InfluxUnavailable, InfluxV1Client
from virtuoso.storage.line_protocol import LineProtocolError, parse_line
from virtuoso.storage.spill import Pending, SpillBuffer

log = logging.getLogger(__name__)

SENT, REJECTED, DOWN = "sent", "rejected", "down"
_DROPPED_RE = re.compile(r"dropped=(\d+)")


def _refused_count(error: str, batch_len: int) -> int:
    """Points a 400 refused: 1.x names each unparsable line and counts type conflicts as ``dropped=N``
    (the other points of the batch were written); without either, assume the whole batch."""
    dropped = _DROPPED_RE.search(error)
    n = error.count("unable to parse") + (int(dropped.group(1)) if dropped else 0)
    return n if 0 < n <= batch_len else batch_len


class InfluxStore:
    """History in InfluxDB with a bounded in-memory buffer and a durable SQLite spill."""

    name = "influxdb"

    def __init__(
        self,
        client: InfluxV1Client,
        spill: SpillBuffer,
        clock: Clock,
        *,
        batch_size: int = 5_000,
        flush_interval_s: float = 1.0,
        buffer_max_points: int = 200_000,
        retry_max_s: float = 5.0,
        stop: threading.Event | None = None,
    ) -> None:
        self.client = client
        self.spill = spill
        self.clock = clock
        self.batch_size = int(batch_size)
        self.flush_interval_s = float(flush_interval_s)
        self.buffer_max_points = int(buffer_max_points)
        self.retry_max_s = float(retry_max_s)
        self._stop = stop or threading.Event()  # share it with the client so retry waits end on close
        self._cond = threading.Condition()
        self._memory: deque[Pending] = deque()
        self._inflight: list[Pending] = []
        self._oldest_mono = 0.0
        self._seq = spill.max_seq()
        self._spilling = spill.count() > 0  # a previous run left points: send those first
        self._closing = False
        self._closed = False
        self._flush_waiters = 0
        self.state = "unknown"
        self.written = 0
        self.spilled_total = 0
        self.rejected = 0
        self.invalid = 0
        self.errors = 0
        self.last_error = ""
        self.last_ok_ms = 0
        self._read_warned = False
        self._thread = threading.Thread(target=self._run, name="virtuoso-influx-writer", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ writes (never block on InfluxDB)

    def write_bars(self, bars: Sequence[Bar]) -> None:
        """Queue bars; same symbol and start_ms overwrites in InfluxDB (upsert).

        Formatted and queued a batch at a time, so the writer sends while a large backfill formats.
        """
        for i in range(0, len(bars), self.batch_size):
            self._enqueue([(schema.BARS, b.symbol, b.start_ms, schema.bar_line, b) for b in bars[i:i + self.batch_size]])

    def write_alerts(self, alerts: Sequence[Alert]) -> None:
        """Queue alerts; readers keep the latest written version of each id."""
        now = self.clock.now_ms()
        self._enqueue([(schema.ALERTS, a.symbol, a.ts_event_ms, lambda x: schema.alert_line(x, now), a) for a in alerts])

    def _enqueue(self, items: list[tuple[str, str, int, Any, Any]]) -> None:
        lines = []
        for measurement, symbol, time_ms, fmt, obj in items:
            try:
                lines.append((measurement, symbol, int(time_ms), fmt(obj)))
            except (LineProtocolError, ValueError, TypeError) as exc:
                self.invalid += 1
                log.error("InfluxDB: cannot encode %s point for %r at %s: %s", measurement, symbol, time_ms, exc)
        if not lines:
            return
        with self._cond:
            start = self._seq + 1
            self._seq += len(lines)
            pending = [Pending(start + i, m, s, t, line) for i, (m, s, t, line) in enumerate(lines)]
            if self._spilling or self._closed:
                self._spill(pending)
            elif len(self._memory) + len(pending) > self.buffer_max_points:
                log.warning("InfluxDB: buffer full (%d points), spilling to %s", len(self._memory), self.spill.path)
                self._spill(list(self._memory) + pending)
                self._memory.clear()
                self._spilling = True
            else:
                if not self._memory:
                    self._oldest_mono = time.monotonic()
                self._memory.extend(pending)
            self._cond.notify_all()

    def _spill(self, items: list[Pending]) -> None:
        self.spill.put(items)
        self.spilled_total += len(items)

    # ------------------------------------------------------------------ writer thread

    def _run(self) -> None:
        try:
            self.client.create_database()
            self.state = "up"
        except InfluxError as exc:  # no admin rights or server down: writes will tell
            log.info("InfluxDB: CREATE DATABASE skipped: %s", exc)
        backoff_s = 0.25
        while True:
            try:
                progressed = self._step()
            except Exception as exc:  # e.g. the disk is full: keep the thread alive, try again later
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                log.exception("InfluxDB writer step failed")
                with self._cond:  # put an unsent memory batch back at the front, in order
                    self._memory.extendleft(reversed(self._inflight))
                    self._inflight = []
                progressed = False
            if progressed is None:
                return
            if progressed:
                backoff_s = 0.25
            elif self._closing:
                return  # down at shutdown: the spill keeps the points for the next start
            else:
                self._stop.wait(backoff_s)
                backoff_s = min(backoff_s * 2, self.retry_max_s)

    def _step(self) -> bool | None:
        """Send one batch from memory or the spill; False when InfluxDB is down, None to exit."""
        batch = self._next_batch()
        if batch is None:
            return None
        if not batch:
            return self._drain_spill_once()
        down = self._send(batch) == DOWN
        with self._cond:
            if down:
                self._spill(batch + list(self._memory))
                self._memory.clear()
                self._spilling = True
            self._inflight = []
            self._cond.notify_all()
        return True  # a failed memory batch is now in the spill; the spill loop backs off

    def _next_batch(self) -> list[Pending] | None:
        """A batch from memory, ``[]`` to work on the spill, or None to exit."""
        with self._cond:
            while True:
                if self._spilling:
                    return []
                if self._memory:
                    due = (len(self._memory) >= self.batch_size or self._closing or self._flush_waiters
                           or time.monotonic() - self._oldest_mono >= self.flush_interval_s)
                    if due:
                        n = min(self.batch_size, len(self._memory))
                        batch = [self._memory.popleft() for _ in range(n)]
                        self._inflight = batch
                        self._oldest_mono = time.monotonic()
                        return batch
                    self._cond.wait(max(0.01, self.flush_interval_s - (time.monotonic() - self._oldest_mono)))
                    continue
                if self._closing:
                    return None
                self._cond.wait(self.flush_interval_s)

    def _drain_spill_once(self) -> bool:
        batch = self.spill.head(self.batch_size)
        if not batch:
            with self._cond:
                if self.spill.count() == 0:
                    self._spilling = False
                    log.info("InfluxDB: spill drained, back to the memory buffer")
                    self._cond.notify_all()
            return True
        if self._send(batch) == DOWN:
            return False
        self.spill.delete_through(batch[0].seq, batch[-1].seq)
        with self._cond:
            self._cond.notify_all()
        return True

    def _send(self, batch: list[Pending]) -> str:
        lines = [p.line for p in batch]
        try:
            self.client.write_lines(lines)
        except InfluxRejected as exc:
            self.rejected += _refused_count(str(exc), len(batch))
            self.errors += 1
            self.last_error = str(exc)[:500]
            log.error("InfluxDB refused points (%s); the batch of %d is quarantined. First point: %s",
                      exc, len(batch), lines[0][:500])
            self.spill.quarantine(self.clock.now_ms(), exc.status, str(exc), lines)
            return REJECTED
        except Exception as exc:  # InfluxUnavailable, or anything unexpected: keep the points
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"[:500]
            if self.state != "down":
                log.warning("InfluxDB unavailable (%s); spilling to %s until it returns", self.last_error, self.spill.path)
            self.state = "down"
            return DOWN
        if self.state == "down":
            log.info("InfluxDB is back; flushing spilled points in order")
        self.state = "up"
        self._read_warned = False
        self.written += len(batch)
        self.last_ok_ms = self.clock.now_ms()
        return SENT

    # ------------------------------------------------------------------ reads

    def _pending(self, measurement: str, start_ms: int, end_ms: int, symbols: Sequence[str] | None) -> list[dict[str, Any]]:
        """Points not yet in InfluxDB (spill, in flight, memory) as records, oldest write first."""
        wanted = None if symbols is None else set(symbols)
        items = self.spill.select(measurement, start_ms, end_ms, symbols)
        with self._cond:
            items += [p for p in (*self._inflight, *self._memory)
                      if p.measurement == measurement and start_ms <= p.time_ms < end_ms
                      and (wanted is None or p.symbol in wanted)]
        items.sort(key=lambda p: p.seq)
        out = []
        for p in items:
            _, tags, fields, t = parse_line(p.line)
            out.append(schema.record_from_fields(tags, fields, t))
        return out

    def _stored(self, q: str) -> list[dict[str, Any]]:
        try:
            rows = schema.records(self.client.query(q, retry=self.state != "down"))
        except InfluxError as exc:
            if not self._read_warned:
                log.warning("InfluxDB read failed (%s); returning only points not yet written to it", exc)
                self._read_warned = True
            if isinstance(exc, InfluxUnavailable):
                self.state = "down"
            return []
        self.state = "up"
        return rows

    def read_bars(self, symbol: str, start_ms: int, end_ms: int) -> list[Bar]:
        """Bars with start in [start_ms, end_ms), oldest first, with pending writes on top."""
        by_start: dict[int, Bar] = {}
        stored = self._stored(schema.bars_query(symbol, start_ms, end_ms))
        for rec in stored + self._pending(schema.BARS, start_ms, end_ms, [symbol]):
            bar = schema.bar_from_record(rec)
            by_start[bar.start_ms] = bar
        return [by_start[k] for k in sorted(by_start)]

    def read_alerts(self, start_ms: int, end_ms: int, symbols: Sequence[str] | None = None) -> list[Alert]:
        """Alerts with ts_event_ms in [start_ms, end_ms), one per id (the latest written), oldest first."""
        if symbols is not None and not symbols:
            return []
        stored = self._stored(schema.alerts_query(start_ms, end_ms, symbols))
        recs = stored + self._pending(schema.ALERTS, start_ms, end_ms, symbols)
        return schema.latest_alerts(schema.alert_from_record(r) for r in recs)

    # ------------------------------------------------------------------ lifecycle and health

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until every queued point is in InfluxDB (True) or the timeout passes (False)."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            self._flush_waiters += 1
            self._cond.notify_all()
            try:
                while self._memory or self._inflight or self._spilling:
                    left = deadline - time.monotonic()
                    if left <= 0 or not self._thread.is_alive():
                        return False
                    self._cond.wait(min(left, 0.1))
                return True
            finally:
                self._flush_waiters -= 1

    def health(self) -> dict[str, Any]:
        """State (up/down/unknown), backlog (memory + in flight + spill) and counters."""
        with self._cond:
            buffered = len(self._memory) + len(self._inflight)
        spilled_now = self.spill.count() if not self._closed else 0
        return {
            "backend": self.name,
            "url": self.client.display_url,
            "database": self.client.database,
            "state": self.state,
            "backlog": buffered + spilled_now,
            "buffered": buffered,
            "spilled": spilled_now,
            "spilled_total": self.spilled_total,
            "written": self.written,
            "rejected": self.rejected,
            "invalid": self.invalid,
            "errors": self.errors,
            "last_error": self.last_error,
            "last_ok_ms": self.last_ok_ms,
        }

    def close(self, timeout_s: float = 30.0) -> None:
        """Flush what is queued; if InfluxDB is down, leave it in the spill for the next start."""
        if self._closed:
            return
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout_s)
        with self._cond:
            if self._thread.is_alive():  # stuck in a request: keep what is still in memory
                self._stop.set()
                self._spill(list(self._memory))
                self._memory.clear()
            self._closed = True
        self._thread.join(5.0)
        self.client.close()
        if not self._thread.is_alive():
            self.spill.close()
