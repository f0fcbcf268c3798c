"""Threshold backtest speed: 24 h x 50 symbols of 1-minute bars (goal <= 250 ms).

    .venv/bin/python bench/backtest.py [--symbols 50] [--hours 24]

Builds the 1-minute bars from the simulator through the real parser and market state (so they
look like recorded history), then times ``backtest_flags`` as the dashboard calls it when a
slider moves: best and median of several runs, and the flag count.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from virtuoso.config import AlertPolicySettings, DetectionSettings  # noqa: E402
from virtuoso.detect.backtest import backtest_flags  # noqa: E402
from virtuoso.domain.bars import Bar  # noqa: E402
from virtuoso.ingest.bybit.parse import BybitParser  # noqa: E402
from virtuoso.ingest.simulator import SimMarket  # noqa: E402
from virtuoso.state.market import MarketState  # noqa: E402

START_MS = 1_736_121_600_000


def history(symbols: int, hours: float, seed: int = 11) -> dict[str, list[Bar]]:
    """Simulate a few symbols through parser and state, then tile their minutes to ``symbols``."""
    base = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT"]
    state = MarketState(base, retention_1s_s=60, retention_1m_min=int(hours * 60) + 10)
    parser = BybitParser()
    for msg, ts in SimMarket(base, seed=seed, start_ms=START_MS, episodes_per_hour=0.5).run(hours * 3600):
        for ev in parser.parse(msg, ts * 1_000_000):
            state.apply(ev)
    src = {s: state.bars_1m(s) for s in base}
    out = {}
    for i in range(symbols):
        name = f"{base[i % 5][:-4]}{i:02d}USDT"
        out[name] = [Bar(name, b.start_ms, b.interval_s, b.open, b.high, b.low, b.close, b.volume, b.turnover,
                         b.trade_count, b.buy_volume, b.sell_volume, b.open_interest, b.funding_rate,
                         b.long_liq_volume, b.short_liq_volume, b.simulated) for b in src[base[i % 5]]]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--symbols", type=int, default=50)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    bars = history(args.symbols, args.hours)
    built_s = time.perf_counter() - t0
    th, pol = DetectionSettings(), AlertPolicySettings()
    backtest_flags(bars, th, pol)  # warm imports and caches
    times, cpu, flags = [], [], []
    for _ in range(args.runs):
        t, c = time.perf_counter(), time.process_time()
        flags = backtest_flags(bars, th, pol)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    n_bars = sum(len(v) for v in bars.values())
    print(f"backtest: {args.symbols} symbols x {args.hours:g} h = {n_bars:,} one-minute bars "
          f"(history built in {built_s:.0f} s)")
    print(f"  CPU  best {min(cpu) * 1000:.0f} ms, median {statistics.median(cpu) * 1000:.0f} ms over {args.runs} runs "
          f"(goal <= 250 ms); {len(flags)} flags")
    print(f"  wall best {min(times) * 1000:.0f} ms, median {statistics.median(times) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
