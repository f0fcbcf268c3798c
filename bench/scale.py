"""How one process carries 10, 50, 200 and 500 symbols: CPU time beside wall time for each figure.

    .venv/bin/python bench/scale.py                    # 10, 50, 200, 500 symbols (several minutes)
    .venv/bin/python bench/scale.py --symbols 10,50 --minutes 5

Per symbol count, on one core, with the simulated universe's names (most liquid first, so 500
symbols include the thin tail):

* **backtest preview** — ``virtuoso.detect.backtest.backtest_flags`` over 24 h of 1-minute bars
  per symbol, as the tuning page runs it when a slider moves (best of ``--runs``);
* **replay pipeline** — ``--minutes`` of simulated market, encoded as Bybit frames and fed through
  the live path (``decode_frame`` -> parser -> market state -> detection runner), in messages per
  second of CPU and of wall time;
* **detection tick** — ``DetectionRunner.on_second`` alone during that replay (median and p90);
* **memory** — resident memory added by market state holding 24 h of 1-minute bars per symbol
  plus a detection runner for them (what a dashboard process holds for the market).

CPU seconds are this process's time (``time.process_time``), so a busy machine inflates the wall
column, not the CPU one. Nothing is asserted: the table is quoted in README ("Scale").
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from backtest import history  # noqa: E402
from virtuoso.alerting.bus import AlertBus  # noqa: E402
from virtuoso.app.pipeline import Pipeline  # noqa: E402
from virtuoso.config import AlertPolicySettings, DetectionSettings  # noqa: E402
from virtuoso.detect.backtest import backtest_flags  # noqa: E402
from virtuoso.detect.runner import DetectionRunner  # noqa: E402
from virtuoso.domain.bars import Bar  # noqa: E402
from virtuoso.domain.clock import ManualClock  # noqa: E402
from virtuoso.ingest.bybit.frames import decode_frame  # noqa: E402
from virtuoso.ingest.bybit.parse import BybitParser  # noqa: E402
from virtuoso.ingest.simulator import SimMarket, simulated_universe  # noqa: E402
from virtuoso.state.market import MarketState  # noqa: E402

START_MS = 1_736_121_600_000
GOALS = {"backtest": "<= 250 ms at 500", "pipeline": ">= 150k msgs/s", "tick": "<= 25 ms", "memory": "<= 1 GB (dashboard)"}


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """(result, cpu_s, wall_s)."""
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c0, time.perf_counter() - w0


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def bench_backtest(bars: dict[str, list[Bar]], runs: int) -> tuple[float, float]:
    th, pol = DetectionSettings(), AlertPolicySettings()
    backtest_flags(bars, th, pol)  # warm caches
    best = (float("inf"), float("inf"))
    for _ in range(runs):
        _, cpu, wall = timed(lambda: backtest_flags(bars, th, pol))
        best = min(best, (cpu, wall))
    return best


class _TimedRunner:
    """The detection runner with each ``on_second`` timed (CPU and wall, ms)."""

    def __init__(self, runner: DetectionRunner) -> None:
        self.runner, self.cpu_ms, self.wall_ms = runner, [], []

    def on_second(self, state: Any, ts_ms: int) -> Any:
        c0, w0 = time.process_time(), time.perf_counter()
        out = self.runner.on_second(state, ts_ms)
        self.cpu_ms.append((time.process_time() - c0) * 1000)
        self.wall_ms.append((time.perf_counter() - w0) * 1000)
        return out


def bench_pipeline(symbols: list[str], minutes: float) -> dict[str, float]:
    market = SimMarket(symbols, seed=3, start_ms=START_MS, episodes_per_hour=0.5, trade_batch_ms=100,
                       book_symbols=symbols[:20])
    frames = [(orjson.dumps(msg), ts) for msg, ts in market.run(minutes * 60)]
    state = MarketState(symbols, 1_800, 2_880)
    runner = _TimedRunner(DetectionRunner(DetectionSettings(), AlertPolicySettings(), symbols))
    pipe = Pipeline(BybitParser(), state, runner, AlertBus(), ManualClock(START_MS))

    def run() -> int:
        on = pipe.on_message
        for raw, ts in frames:
            on(decode_frame(raw), ts * 1_000_000)
        return len(frames)

    gc.collect()
    n, cpu, wall = timed(run)
    skip = 60  # the first minute: detection has no windows yet
    tick_cpu = sorted(runner.cpu_ms[skip:]) or [0.0]
    tick_wall = sorted(runner.wall_ms[skip:]) or [0.0]
    return {"messages": n, "cpu_s": cpu, "wall_s": wall, "msgs_per_cpu_s": n / cpu, "msgs_per_wall_s": n / wall,
            "tick_cpu_med": statistics.median(tick_cpu), "tick_cpu_p90": tick_cpu[int(0.9 * (len(tick_cpu) - 1))],
            "tick_wall_med": statistics.median(tick_wall), "tick_wall_p90": tick_wall[int(0.9 * (len(tick_wall) - 1))]}


def bench_memory(bars: dict[str, list[Bar]], symbols: list[str]) -> float:
    gc.collect()
    before = rss_mb()
    state = MarketState(symbols, 1_800, 2_880)
    names = list(bars)
    for i, s in enumerate(symbols):
        src = bars[names[i % len(names)]]
        state.seed_bars_1m([b._replace(symbol=s) for b in src])
    runner = DetectionRunner(DetectionSettings(), AlertPolicySettings(), symbols)
    gc.collect()
    after = rss_mb()
    del state, runner
    return after - before


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--symbols", default="10,50,200,500")
    ap.add_argument("--minutes", type=float, default=10.0, help="simulated minutes replayed per symbol count")
    ap.add_argument("--runs", type=int, default=3, help="backtest runs (best counts)")
    args = ap.parse_args(argv)
    counts = [int(x) for x in args.symbols.split(",") if x.strip()]
    print(f"building 24 h of 1-minute bars for {max(counts)} symbols ...", flush=True)
    all_bars = history(max(counts), 24.0)
    rows = []
    for n in counts:
        names = list(all_bars)[:n]
        bt_cpu, bt_wall = bench_backtest({s: all_bars[s] for s in names}, args.runs)
        p = bench_pipeline(simulated_universe(n), args.minutes)
        mem = bench_memory({s: all_bars[s] for s in names}, simulated_universe(n))
        rows.append((n, bt_cpu, bt_wall, p, mem))
        print(f"  {n} symbols done", flush=True)
    print()
    print(f"| symbols | backtest preview, 24 h (CPU / wall ms) | replay pipeline msgs/s (CPU / wall) | messages "
          f"| detection tick median, p90 (CPU ms) | tick median (wall ms) | memory, 24 h bars (MB) |")
    print("|---|---|---|---|---|---|---|")
    for n, bt_cpu, bt_wall, p, mem in rows:
        print(f"| {n} | {bt_cpu * 1000:,.0f} / {bt_wall * 1000:,.0f} | {p['msgs_per_cpu_s']:,.0f} / {p['msgs_per_wall_s']:,.0f} "
              f"| {p['messages']:,} | {p['tick_cpu_med']:.1f}, {p['tick_cpu_p90']:.1f} | {p['tick_wall_med']:.1f} | {mem:,.0f} |")
    print()
    print("goals (issue 14): " + "; ".join(f"{k} {v}" for k, v in GOALS.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
