"""How fast the evaluation's markets are made: the simulator at 5 to 500 symbols, and the real-candle bridge.

    .venv/bin/python bench/simulator.py [--minutes 20] [--sizes 5,50,500] [--no-real]

For each watchlist size, the simulator (the default majors for 5, the universe's first N names
beyond) generates ``--minutes`` simulated minutes; the bridge generates the same span of 16 real
symbols. Prints CPU microseconds per symbol-second and messages per CPU second (wall beside it:
a shared machine inflates wall time).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from virtuoso.ingest.simulator import SimMarket, simulated_universe  # noqa: E402

START_MS = 1_736_164_800_000  # 2025-01-06 12:00 UTC: a busy hour of the intraday cycle


def _time(make, seconds: float) -> tuple[int, float, float]:
    market = make()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    n = sum(1 for _ in market.run(seconds))
    return n, time.process_time() - cpu0, time.perf_counter() - wall0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--sizes", default="5,50,500")
    ap.add_argument("--no-real", action="store_true")
    args = ap.parse_args()
    seconds = args.minutes * 60
    print(f"| market | symbols | messages | cpu s | wall s | us cpu per symbol-second | msgs per cpu s |")
    print("|---|---|---|---|---|---|---|")
    for size in (int(x) for x in args.sizes.split(",")):
        names = simulated_universe(size)
        books = None if size <= 50 else names[:50]  # order books for a focus list at scale, as live
        n, cpu, wall = _time(lambda: SimMarket(names, seed=1, start_ms=START_MS, book_symbols=books), seconds)
        print(f"| simulator{' (books: 50)' if books else ''} | {size} | {n:,} | {cpu:.1f} | {wall:.1f} | "
              f"{cpu / (size * seconds) * 1e6:.0f} | {n / cpu:,.0f} |")
    if not args.no_real:
        from virtuoso.ingest.candles import CandleMarket, load_real, split_days

        data = load_real()
        day = split_days(data)["held_out"][0] + 12 * 3_600_000
        end = day + int(seconds * 1000)
        n, cpu, wall = _time(lambda: CandleMarket(data, start_ms=day, end_ms=end, seed=1), seconds)
        print(f"| real-candle bridge | {len(data)} | {n:,} | {cpu:.1f} | {wall:.1f} | "
              f"{cpu / (len(data) * seconds) * 1e6:.0f} | {n / cpu:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
