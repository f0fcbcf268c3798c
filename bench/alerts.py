"""Alert delivery benchmark: market message -> Discord receiver and -> relay clients; publish -> both.

End to end (the issue's figure): a replayed Bybit trade message goes through the real parser,
market state and detection runner, whose alert goes through the bus, the outbox and the sinks; the
clock starts when the message that completes the evidence is handed to the pipeline and stops when
the Discord receiver (in its own process, as Discord is not in ours) accepts the event's message
(the text, posted with ``?wait=true``) / a relay client receives it. Charts are on, drawn in the worker process with the default budget (0: the
text never waits), and attached by an edit: their own latency (message -> the edit carrying the
PNG accepted) and the drawing time in the worker are printed too.

Then from ``AlertBus.publish_alerts`` (what the pipeline calls right after detection) to (1) the
local Discord-compatible receiver accepting the message and (2) each relay client receiving it,
through the durable outbox. Prints p50/p99 latency and throughput, and the wall and CPU time of
each part (this process, and the chart worker). Run:
``.venv/bin/python bench/alerts.py [--alerts 200] [--clients 100] [--e2e-alerts 100]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from websockets.asyncio.client import connect  # noqa: E402

from bench.remote_receiver import RemoteDiscordReceiver  # noqa: E402
from tests.discord_receiver import DiscordReceiver  # noqa: E402
from tests.state_factories import alert  # noqa: E402
from virtuoso.alerting.bus import AlertBus  # noqa: E402
from virtuoso.app.view import SourceInfo  # noqa: E402
from virtuoso.config import Settings  # noqa: E402
from virtuoso.domain.clock import SystemClock  # noqa: E402
from virtuoso.app.delivery_build import build_sinks
from virtuoso.sinks.delivery import DeliveryService  # noqa: E402

T0 = 1_700_000_000_000


class View:
    """What delivery reads; with ``state`` its bars come from the pipeline's market state (charts)."""

    def __init__(self, state: Any = None) -> None:
        self.state = state

    def snapshots(self) -> dict[str, Any]:
        return {}

    def composite_scores(self) -> dict[str, float]:
        return {}

    def source_info(self) -> SourceInfo:
        return SourceInfo("bench", False, "bench", 0)

    def bars_1m(self, symbol: str, minutes: int) -> list[Any]:
        return [] if self.state is None else self.state.bars_1m(symbol)[-minutes:]

    def bars_1s(self, symbol: str, seconds: int) -> list[Any]:
        return [] if self.state is None else self.state.bars_1s(symbol)[-seconds:]

    def bars_between(self, symbol: str, start_ms: int, end_ms: int) -> list[Any]:
        if self.state is None:
            return []
        return [b for b in self.state.bars_1m(symbol) if start_ms <= b.start_ms < end_ms]


class Clocks:
    """Wall and CPU time of a part of the benchmark (this process; children once they exited)."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def line(self, children_cpu_s: float | None = None) -> str:
        wall, cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu
        extra = "" if children_cpu_s is None else f" + {children_cpu_s:.2f} s in the chart worker"
        return f"wall {wall:.2f} s, CPU {cpu:.2f} s in this process{extra}"


def children_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def service(data_dir: Path, view: Any = None, **over: Any) -> tuple[DeliveryService, AlertBus]:
    over.setdefault("outcomes", {"enabled": False})
    s = Settings(_env_file=None, data_dir=data_dir, trading={"enabled": False}, **over)
    bus = AlertBus()
    return DeliveryService(s, bus, view or View(), data_dir / "virtuoso.db", SystemClock(), build_sinks=build_sinks).start(), bus


def event_id_of(payload: dict[str, Any]) -> str:
    return payload["embeds"][-1]["footer"]["text"].split("event id ")[1].split(" ")[0]


def wait(pred: Any, timeout_s: float) -> None:
    end = time.monotonic() + timeout_s
    while not pred() and time.monotonic() < end:
        time.sleep(0.005)


def bench_discord(n: int, gap_s: float) -> None:
    clocks = Clocks()
    with tempfile.TemporaryDirectory() as d, DiscordReceiver() as r:
        svc, bus = service(Path(d), discord={"webhook_url": r.url, "digest_window_s": 0, "chart": False},
                           relay={"enabled": False})
        try:
            sent: dict[str, float] = {}
            for i in range(n):
                a = alert(ts_ms=T0 + i * 1000)
                sent[a.id] = time.perf_counter()
                bus.publish_alerts([a])
                time.sleep(gap_s)
            wait(lambda: len(r.received) >= n, 60)
            lat = [(rec.t - sent[event_id_of(rec.payload)]) * 1000 for rec in r.of("POST")]
            print(f"discord  latency  n={len(lat)}  p50={pct(lat, .5):.1f} ms  p99={pct(lat, .99):.1f} ms  max={max(lat):.1f} ms")
            m = n * 2
            start = len(r.received)
            t0 = time.perf_counter()
            bus.publish_alerts([alert(ts_ms=T0 + 10_000_000 + i) for i in range(m)])
            wait(lambda: len(r.received) >= start + m, 120)
            dt = time.perf_counter() - t0
            print(f"discord  burst    {m} alerts (one message each) in {dt:.2f} s = {m / dt:.0f} messages/s")
        finally:
            svc.stop()
    print(f"  discord part: {clocks.line()}")


async def _relay(url: str, bus: AlertBus, clients: int, n: int, gap_s: float) -> list[float]:
    lat: list[float] = []
    sent: dict[str, float] = {}
    conns = [await connect(url) for _ in range(clients)]
    for ws in conns:
        await ws.send(json.dumps({"op": "subscribe", "channels": ["alerts"]}))
        await ws.recv()

    async def reader(ws: Any) -> None:
        for _ in range(n):
            m = json.loads(await ws.recv())
            lat.append((time.perf_counter() - sent[m["data"]["id"]]) * 1000)

    readers = [asyncio.create_task(reader(ws)) for ws in conns]
    for i in range(n):
        a = alert(ts_ms=T0 + i * 1000)
        sent[a.id] = time.perf_counter()
        bus.publish_alerts([a])
        await asyncio.sleep(gap_s)
    await asyncio.wait_for(asyncio.gather(*readers), 60)
    for ws in conns:
        await ws.close()
    return lat


def bench_relay(clients: int, n: int, gap_s: float) -> None:
    clocks = Clocks()
    with tempfile.TemporaryDirectory() as d:
        svc, bus = service(Path(d), relay={"port": 0})
        try:
            lat = asyncio.run(_relay(f"ws://127.0.0.1:{svc.relay_port}", bus, clients, n, gap_s))
            print(f"relay    fan-out  {clients} clients x {n} alerts  p50={pct(lat, .5):.1f} ms  p99={pct(lat, .99):.1f} ms"
                  f"  mean={statistics.fmean(lat):.1f} ms")
        finally:
            svc.stop()
    print(f"  relay part: {clocks.line()}")


async def _e2e_relay_clients(url: str, clients: int) -> list[Any]:
    conns = [await connect(url) for _ in range(clients)]
    for ws in conns:
        await ws.send(json.dumps({"op": "subscribe", "channels": ["alerts"]}))
        await ws.recv()
    return conns


def bench_end_to_end(n: int, clients: int, gap_s: float, charts_on: bool = True) -> None:
    """Replayed market messages -> pipeline -> detection -> outbox -> Discord receiver and relay clients."""
    from tests.state_factories import ws_trade
    from virtuoso.app.interpreter import InterpreterTuning
    from virtuoso.app.pipeline import Pipeline
    from virtuoso.config import DetectionSettings
    from virtuoso.detect.runner import DetectionRunner
    from virtuoso.domain.clock import ManualClock
    from virtuoso.ingest.bybit.parse import BybitParser
    from virtuoso.state.market import MarketState

    symbols = [f"S{i:03d}USDT" for i in range(n)]
    t0 = 1_736_121_600_000
    clocks = Clocks()
    children_before = children_cpu_s()
    with tempfile.TemporaryDirectory() as d, RemoteDiscordReceiver() as r:
        state = MarketState(symbols, 900, 120)
        svc, bus = service(Path(d), View(state), relay={"port": 0},
                           discord={"webhook_url": r.url, "digest_window_s": 0, "chart": charts_on})
        runner = DetectionRunner(DetectionSettings(), svc.settings.policy, symbols)
        pipeline = Pipeline(BybitParser(), state, runner, bus, ManualClock())
        tuning = InterpreterTuning().apply()  # as `virtuoso run` does once everything is built
        id_symbol: dict[str, str] = {}
        bus.subscribe_alerts("bench", lambda alerts: id_symbol.update({a.id: a.symbol for a in alerts}))
        started: dict[str, float] = {}
        in_pipeline: list[float] = []  # parse, state, detection of all symbols, policy, bus publish
        relay_recv: list[tuple[str, float]] = []
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()

        async def read_all(ws: Any) -> None:
            for _ in range(n):
                m = json.loads(await asyncio.wait_for(ws.recv(), 60))
                relay_recv.append((m["data"]["symbol"], time.perf_counter()))

        try:
            conns = asyncio.run_coroutine_threadsafe(
                _e2e_relay_clients(f"ws://127.0.0.1:{svc.relay_port}", clients), loop).result(30)
            readers = [asyncio.run_coroutine_threadsafe(read_all(ws), loop) for ws in conns]
            # Six quiet minutes give every symbol a volume baseline of one unit per second.
            for sec in range(360):
                for sym in symbols:
                    pipeline.on_message(ws_trade(sym, t0 + sec * 1000 + 100, 100.0, 1.0, i=sec), 0)
            sec = 360
            for sym in symbols:
                pipeline.on_message(ws_trade(sym, t0 + sec * 1000 + 100, 100.0, 1_000.0, i=sec), 0)  # the burst
                started[sym] = time.perf_counter()
                # The next second's message closes the burst's second: detection runs and alerts.
                pipeline.on_message(ws_trade(sym, t0 + (sec + 1) * 1000 + 100, 100.0, 1.0, i=sec + 1), 0)
                in_pipeline.append((time.perf_counter() - started[sym]) * 1000)
                sec += 2
                time.sleep(gap_s)
            wait(lambda: r.counts()[0] >= n, 60)
            posted = clocks.line()
            for fut in readers:
                fut.result(60)
            for ws in conns:
                asyncio.run_coroutine_threadsafe(ws.close(), loop).result(10)
            if charts_on:  # every chart attached (or skipped: a burst beyond the worker's queue)
                wait(lambda: svc.charts is not None and svc.charts._queued == 0 and not svc.discord._images, 300)
            charts = svc.charts.health() if svc.charts is not None else {}
            render = sorted(svc.charts.render_ms) if svc.charts is not None else []
            render_cpu = sorted(svc.charts.render_cpu_ms) if svc.charts is not None else []
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
            svc.stop()
            tuning.restore()
        relay_lat = [t - started[sym] for sym, t in relay_recv]
        records = r.records()
        posts = {mid: (t, payload) for t, method, mid, payload, _ in records if method == "POST"}
        disc = [(t - started[id_symbol[event_id_of(payload)]]) * 1000 for t, payload in posts.values()]
        chart_lat = [(t - started[id_symbol[event_id_of(posts[mid][1])]]) * 1000
                     for t, method, mid, _, files in records if method == "PATCH" and files and mid in posts]
        what = "the text; chart attached later" if charts_on else "charts off"
        print(f"end to end  market message -> Discord receiver ({what})  n={len(disc)}  "
              f"p50={pct(disc, .5):.1f} ms  p99={pct(disc, .99):.1f} ms  (goal p99 <= 25 ms)")
        if chart_lat:
            print(f"end to end  market message -> chart attached by edit  n={len(chart_lat)}  p50={pct(chart_lat, .5):.0f} ms  "
                  f"p99={pct(chart_lat, .99):.0f} ms  (charts queue in one worker: a burst of {n} takes its turn)")
            print(f"  chart drawing in the worker  p50={pct(render, .5):.0f} ms  p99={pct(render, .99):.0f} ms wall, "
                  f"p50={pct(render_cpu, .5):.0f} ms  p99={pct(render_cpu, .99):.0f} ms CPU  ({charts.get('rendered')} charts, "
                  f"{charts.get('failed')} failed, {charts.get('skipped_busy')} skipped: worker queue full)")
        rl = [x * 1000 for x in relay_lat]
        print(f"end to end  market message -> relay client ({clients} clients)  n={len(rl)}  p50={pct(rl, .5):.1f} ms  "
              f"p99={pct(rl, .99):.1f} ms")
        print(f"  of which in the pipeline (detection over {n} symbols, then publish)  p50={pct(in_pipeline, .5):.1f} ms  "
              f"p99={pct(in_pipeline, .99):.1f} ms")
        print(f"  end-to-end part: until the last text accepted {posted}; all told "
              f"{clocks.line(children_cpu_s() - children_before)}")


def main() -> None:
    print(f"bench/alerts.py on {os.cpu_count()} CPUs")
    ap = argparse.ArgumentParser()
    ap.add_argument("--alerts", type=int, default=200)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--gap-ms", type=float, default=20.0)
    ap.add_argument("--e2e-alerts", type=int, default=100)
    ap.add_argument("--e2e-clients", type=int, default=10)
    ap.add_argument("--no-charts", action="store_true", help="end to end without charts (to compare)")
    a = ap.parse_args()
    bench_end_to_end(a.e2e_alerts, a.e2e_clients, a.gap_ms / 1000, charts_on=not a.no_charts)
    bench_discord(a.alerts, a.gap_ms / 1000)
    bench_relay(a.clients, a.alerts // 2, a.gap_ms / 1000)


if __name__ == "__main__":
    main()
