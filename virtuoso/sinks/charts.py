"""Charts for alert messages, drawn off the delivery thread's critical section.

A chart costs about a quarter of a second of CPU (matplotlib); drawn on the delivery loop it would
hold every message behind it, and drawn in a thread it would still take the GIL from the loop and
the pipeline. So charts are drawn in one worker *process* (``spawn``: no fork of a threaded
process), started once and warmed up (imports) at start. The loop only gathers the bars (a memory
read), submits the request and awaits the future; sinks wait for it at most their budget and
otherwise send without the image and attach it when it is ready.

One future per event id is kept (an LRU of recent ones), so the Discord and Telegram sinks share
one drawing, and a repost of the same event reuses it. The worker runs at a lower priority
(``nice`` 10), so on a busy machine charts wait rather than the text of alerts. ``mode="inline"``
draws in a thread of this process instead (tests that swap the renderer; never the default).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import time
from collections import OrderedDict, deque
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, Callable, Sequence

from virtuoso.alerting.event_chart import ChartRequest, render_png, warm
from virtuoso.domain.alerts import MARKET_SYMBOL, Alert
from virtuoso.domain.bars import Bar

log = logging.getLogger(__name__)

CACHE_MAX = 64
WORKER_NICE = 10  # the worker yields the CPU to ingestion and the text of alerts: charts can wait
RENDER_TIMEOUT_S = 600.0  # from submission; a safety net for a hung worker, not a budget
QUEUE_MAX = 32  # charts waiting for the worker; beyond it a burst's events go without one
TIMINGS_MAX = 2_000


def _exit_with_parent(parent_pid: int, poll_s: float = 1.0) -> None:
    """In the worker: exit when the engine is gone. A parent killed with SIGKILL cannot shut the
    pool down, and the worker would otherwise wait for work forever."""
    import threading

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent_pid:
                os._exit(0)

    threading.Thread(target=watch, name="virtuoso-chart-parent-watch", daemon=True).start()


def _worker_init(parent_pid: int) -> None:
    """In the worker process: follow the parent's life, lower its priority, import matplotlib once."""
    _exit_with_parent(parent_pid)
    try:
        os.nice(WORKER_NICE)
    except (AttributeError, OSError):  # not on this platform, or not allowed: draw at normal priority
        pass
    warm()


def timed_render(renderer: Callable[[ChartRequest], bytes], req: ChartRequest) -> tuple[bytes, float, float]:
    """Runs in the worker: (PNG, wall ms, CPU ms) of one drawing, without the time spent queued."""
    wall, cpu = time.perf_counter(), time.process_time()
    png = renderer(req)
    return png, (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def chart_bars(bars_1m: Sequence[Bar], bars_1s: Sequence[Bar]) -> tuple[Bar, ...]:
    """Closed 1-minute bars plus the minute in progress folded from its 1-second bars."""
    out = list(bars_1m)
    after = out[-1].end_ms if out else 0
    tail = [b for b in bars_1s if b.start_ms >= after]
    if tail:
        start = tail[0].start_ms - tail[0].start_ms % 60_000
        last = tail[-1]
        out.append(Bar(
            tail[0].symbol, start, 60, tail[0].open, max(b.high for b in tail), min(b.low for b in tail), last.close,
            volume=sum(b.volume for b in tail), turnover=sum(b.turnover for b in tail),
            open_interest=last.open_interest, funding_rate=last.funding_rate,
            long_liq_volume=sum(b.long_liq_volume for b in tail), short_liq_volume=sum(b.short_liq_volume for b in tail),
            simulated=last.simulated))
    return tuple(out)


class ChartService:
    """Draws event charts in a worker process; ``await chart(alert)`` gives PNG bytes or None."""

    def __init__(self, bars: Callable[[str, int, int], tuple[Bar, ...]], minutes: int, *,
                 mode: str = "process", timeout_s: float = RENDER_TIMEOUT_S,
                 renderer: Callable[[ChartRequest], bytes] = render_png) -> None:
        """``bars(symbol, start_ms, end_ms)`` reads the event's window (memory, then the store)."""
        self._bars = bars
        self.minutes = minutes
        self.mode = mode
        self.timeout_s = timeout_s
        self._renderer = renderer
        self._executor: Executor | None = None
        self._cache: OrderedDict[str, asyncio.Future[bytes | None]] = OrderedDict()
        self.rendered = 0
        self.failed = 0
        self.skipped = 0
        self._queued = 0
        self.render_ms: deque[float] = deque(maxlen=TIMINGS_MAX)  # drawing alone, in the worker
        self.render_cpu_ms: deque[float] = deque(maxlen=TIMINGS_MAX)
        self.ready_ms: deque[float] = deque(maxlen=TIMINGS_MAX)  # from the request to the PNG (queue included)
        self.last_error: str | None = None

    def start(self) -> "ChartService":
        if self._executor is None:
            if self.mode == "process":
                ctx = multiprocessing.get_context("spawn")
                self._executor = ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=_worker_init,
                                                     initargs=(os.getpid(),))
                self._executor.submit(warm)  # start the worker now, not on the first alert
            else:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="virtuoso-chart")
        return self

    def close(self, wait: bool = False) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=wait, cancel_futures=True)
            self._executor = None

    def health(self) -> dict[str, Any]:
        def p(xs: deque[float], q: float) -> float | None:
            ys = sorted(xs)
            return round(ys[min(len(ys) - 1, int(q * (len(ys) - 1)))], 1) if ys else None

        return {"mode": self.mode, "rendered": self.rendered, "failed": self.failed, "skipped_busy": self.skipped,
                "queued": self._queued,
                "render_ms_p50": p(self.render_ms, 0.5), "render_ms_p99": p(self.render_ms, 0.99),
                "ready_ms_p99": p(self.ready_ms, 0.99), "last_error": self.last_error}

    def cached(self, event_id: str) -> asyncio.Future[bytes | None] | None:
        """The drawing already asked for this event, if any (and not failed)."""
        fut = self._cache.get(event_id)
        return fut if fut is not None and not (fut.done() and result_of(fut) is None) else None

    def request(self, alert: Alert, simulated: bool) -> asyncio.Future[bytes | None] | None:
        """Start (or find) the drawing of this event's chart; None when there is nothing to draw."""
        if alert.symbol == MARKET_SYMBOL or self._executor is None:
            return None
        fut = self._cache.get(alert.id)
        if fut is not None and not (fut.done() and result_of(fut) is None):
            self._cache.move_to_end(alert.id)
            return fut
        opened = alert.ts_start_ms or alert.ts_event_ms
        try:
            bars = self._bars(alert.symbol, opened - self.minutes * 60_000, alert.ts_event_ms + 60_000)
        except Exception as exc:  # a broken read costs the chart, never the alert
            self._fail(f"bars for {alert.symbol}: {type(exc).__name__}: {exc}")
            return None
        if not bars:
            return None
        if self._queued >= QUEUE_MAX:  # a burst: the newest events would wait minutes for a chart
            self.skipped += 1
            return None
        req = ChartRequest(alert.id, alert.symbol, alert.kind.value, alert.severity.value, alert.ts_event_ms,
                           alert.direction, bool(simulated or alert.simulated), tuple(bars))
        fut = asyncio.ensure_future(self._render(req))
        self._cache[alert.id] = fut
        while len(self._cache) > CACHE_MAX:
            self._cache.popitem(last=False)
        return fut

    async def _render(self, req: ChartRequest) -> bytes | None:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        self._queued += 1
        try:
            assert self._executor is not None
            png, wall_ms, cpu_ms = await asyncio.wait_for(
                loop.run_in_executor(self._executor, timed_render, self._renderer, req), self.timeout_s)
        except Exception as exc:
            self._fail(f"{req.symbol}: {type(exc).__name__}: {exc}"[:300])
            return None
        finally:
            self._queued -= 1
        self.rendered += 1
        self.render_ms.append(wall_ms)
        self.render_cpu_ms.append(cpu_ms)
        self.ready_ms.append((time.perf_counter() - started) * 1000)
        return png

    def _fail(self, error: str) -> None:
        self.failed += 1
        self.last_error = error
        log.warning("chart failed: %s", error)


async def within(fut: asyncio.Future[bytes | None] | None, budget_s: float) -> bytes | None:
    """The chart if it is ready within ``budget_s`` (0: only if it is ready now); never cancels it."""
    if fut is None:
        return None
    if fut.done():
        return result_of(fut)
    if budget_s <= 0:
        return None
    try:
        return await asyncio.wait_for(asyncio.shield(fut), budget_s)
    except asyncio.TimeoutError:
        return None


def result_of(fut: asyncio.Future[bytes | None]) -> bytes | None:
    """A finished drawing's PNG, or None if it was cancelled or failed."""
    if fut.cancelled() or fut.exception() is not None:
        return None
    return fut.result()
