"""Engine memory over a long simulated feed: is it flat after warm-up?

    .venv/bin/python bench/memory.py                       # 50 symbols, 30 simulated minutes at 30x
    .venv/bin/python bench/memory.py --symbols 50 --minutes 30 --speed 30

Starts the same Engine the dashboard starts (simulator source, detection, store writer, delivery
with the relay on a free port) for a 50-symbol watchlist, lets the simulator's warm-up history
(60 simulated minutes, which already fills the 30-minute 1-second bar retention) go through,
then samples the process's resident memory every few seconds while the feed runs. Prints RSS after
warm-up, at the end, the growth in percent (goal < 5 %), and the pipeline's message counts, so a
reader can see the feed really ran. Linux only (reads /proc/self/statm).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from virtuoso.app.engine import Engine  # noqa: E402
from virtuoso.config import load_settings  # noqa: E402

# Fifty Bybit linear perpetuals (real names, so the simulator's price levels look familiar).
SYMBOLS_50 = (
    "BTCUSDT ETHUSDT SOLUSDT XRPUSDT DOGEUSDT ADAUSDT AVAXUSDT LINKUSDT DOTUSDT TRXUSDT "
    "LTCUSDT BCHUSDT NEARUSDT ATOMUSDT UNIUSDT APTUSDT ARBUSDT OPUSDT SUIUSDT FILUSDT "
    "ETCUSDT XLMUSDT HBARUSDT ICPUSDT INJUSDT SEIUSDT TIAUSDT AAVEUSDT MKRUSDT RUNEUSDT "
    "WIFUSDT PEPEUSDT SHIB1000USDT BONKUSDT FETUSDT RNDRUSDT GRTUSDT SANDUSDT MANAUSDT AXSUSDT "
    "GALAUSDT IMXUSDT LDOUSDT CRVUSDT DYDXUSDT ENSUSDT JUPUSDT PYTHUSDT WLDUSDT ORDIUSDT"
).split()


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--symbols", type=int, default=50)
    ap.add_argument("--minutes", type=float, default=30.0, help="simulated minutes after warm-up")
    ap.add_argument("--speed", type=float, default=30.0, help="simulated seconds per wall second")
    ap.add_argument("--sample-s", type=float, default=5.0)
    args = ap.parse_args(argv)
    symbols = SYMBOLS_50[: max(1, min(args.symbols, len(SYMBOLS_50)))]
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            {
                "VIRTUOSO_SOURCE": "simulator",
                "VIRTUOSO_SYMBOLS": ",".join(symbols),
                "VIRTUOSO_DATA_DIR": tmp,
                "VIRTUOSO_SIMULATOR__SPEED": str(args.speed),
                "VIRTUOSO_RELAY__PORT": "0",
                "VIRTUOSO_LOG_LEVEL": "WARNING",
            },
            env_file=None,
        )
        engine = Engine(settings).start()
        try:
            # Warm-up: the simulator's history replay, then a little live feed.
            engine.wait_until(lambda e: e.health()["source"].get("phase") == "live", timeout_s=300)
            time.sleep(max(5.0, 60.0 / args.speed * 2))
            base = rss_mb()
            base_msgs = engine.health()["pipeline"].get("messages", 0)
            wall_s = args.minutes * 60.0 / args.speed
            samples = [(0.0, base)]
            t0 = time.monotonic()
            while (elapsed := time.monotonic() - t0) < wall_s:
                time.sleep(min(args.sample_s, wall_s - elapsed))
                samples.append((time.monotonic() - t0, rss_mb()))
            h = engine.health()
        finally:
            engine.stop()
    end = samples[-1][1]
    peak = max(mb for _, mb in samples)
    msgs = h["pipeline"].get("messages", 0) - base_msgs
    print(f"engine memory, {len(symbols)} symbols, {args.minutes:.0f} simulated minutes at {args.speed:g}x "
          f"({wall_s:.0f} s wall) after warm-up")
    print(f"{'':>4}{'t (s)':>8}{'RSS (MB)':>10}")
    for t, mb in samples:
        print(f"{'':>4}{t:8.0f}{mb:10.1f}")
    print(f"RSS after warm-up {base:.1f} MB, at end {end:.1f} MB, peak {peak:.1f} MB, "
          f"growth {100 * (end - base) / base:+.1f} % (goal < 5 %)")
    print(f"messages processed during the run: {msgs:,} ({msgs / wall_s:,.0f}/s); "
          f"queue dropped: {h['pipeline'].get('queue_dropped', 0)}; alerts: {h['bus'].get('published_alerts', 0)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
