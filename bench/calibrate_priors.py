"""Where a short history starts: the pooled tail priors of every detection statistic.

    .venv/bin/python bench/calibrate_priors.py [--real-days 3] [--sim-seeds 2] [--hours 24] [--write]

A symbol's alarm levels come from its own history (``virtuoso.detect.calibration``); until it has
a day or so of it, they lean on a prior: each statistic's tail (90 % and 98 % quantiles and share of
minutes above zero) pooled over many symbols. This script measures that prior on **calibration data
only**: the real-candle background's calibration days (``virtuoso.ingest.candles.split_days``) and
simulated *tuning* seeds (below 1000) with nothing planted. It runs the real pipeline on them, takes
each symbol's calibration samples from the runner and pools them per statistic at their upper
quartile across symbols (a new coin is assumed to be on the wild side of typical). ``--write``
rewrites ``virtuoso/detect/priors.py``; the figures reported by ``virtuoso evaluate`` are on
held-out days and seeds.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MIN_SAMPLES = 720  # minutes a symbol needs to contribute


def _run(source: str, seed: int, hours: float, day_index: int) -> dict[str, list[tuple[float, float, float, float]]]:
    from virtuoso.alerting.bus import AlertBus
    from virtuoso.app.pipeline import Pipeline
    from virtuoso.config import load_settings
    from virtuoso.detect.calibration import _upper_quantiles
    from virtuoso.detect.runner import DetectionRunner
    from virtuoso.domain.clock import ManualClock
    from virtuoso.ingest.bybit.parse import BybitParser
    from virtuoso.state.market import MarketState

    settings = load_settings(environ={})
    if source == "real":
        from virtuoso.ingest.candles import DAY_MS, CandleMarket, load_real, split_days

        data = load_real()
        days = split_days(data)["calibration"]
        start = days[day_index]
        market = CandleMarket(data, start_ms=start, end_ms=min(start + int(hours * 3_600_000), days[-1] + DAY_MS),
                              seed=seed)
        messages, symbols = market.run(), market.symbols
    else:
        from virtuoso.ingest.simulator import SimMarket, evaluation_symbols

        symbols = evaluation_symbols(seed, 2)
        market = SimMarket(symbols, seed=seed, start_ms=1_736_121_600_000, quiet=True)
        messages = market.run(hours * 3600)
    runner = DetectionRunner(settings.detection, settings.policy, list(symbols), simulated=source != "real")
    pipeline = Pipeline(BybitParser(), MarketState(list(symbols), 1800, 2880), runner, AlertBus(), ManualClock())
    for msg, ts in messages:
        pipeline.on_message(msg, ts * 1_000_000)
    pipeline.finish()
    out: dict[str, list[tuple[float, float, float, float]]] = {}
    cal = runner.calibrator
    for name in cal.names:
        x = cal.samples(name).astype(float)
        n_all = np.isfinite(x).sum(axis=1)
        pos = np.where(x > 0, x, np.nan)
        n = np.isfinite(pos).sum(axis=1).astype(float)
        keep = (n_all >= MIN_SAMPLES) & (n >= 30)
        if not keep.any():
            continue
        q50, q90, q98, q996 = _upper_quantiles(pos[keep], n[keep])
        share = n[keep] / n_all[keep]
        out[name] = [(float(a), float(b), float(c), float(d)) for a, b, c, d in zip(q90, q98, q996, share)]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--real-days", type=int, default=3, help="calibration days of real candles (one run each)")
    ap.add_argument("--sim-seeds", type=int, default=2, help="quiet simulated tuning seeds (5, 6, ...)")
    ap.add_argument("--hours", type=float, default=48.0, help="hours per run")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--write", action="store_true", help="rewrite virtuoso/detect/priors.py")
    args = ap.parse_args(argv)
    wall, cpu = time.perf_counter(), time.process_time()
    tasks = [("real", 0, args.hours, d * int(max(1, args.hours // 24))) for d in range(args.real_days)]
    tasks += [("sim", 5 + k, args.hours, 0) for k in range(args.sim_seeds)]
    pooled: dict[str, list[tuple[float, float, float, float]]] = {}
    with ProcessPoolExecutor(args.jobs) as pool:
        for res in pool.map(_run, *zip(*tasks)):
            for name, rows in res.items():
                pooled.setdefault(name, []).extend(rows)
    import resource

    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = []
    for name in sorted(pooled):
        a = np.array(pooled[name])
        q90, q98, share = np.quantile(a[:, 0], 0.75), np.quantile(a[:, 1], 0.75), np.quantile(a[:, 3], 0.75)
        with np.errstate(all="ignore"):
            xi_each = np.log((a[:, 2] - a[:, 1]) / (a[:, 1] - a[:, 0])) / np.log(5.0)
        xi = float(np.nanquantile(xi_each, 0.75))
        lines.append(f'    "{name}": ({q90:.4g}, {q98:.4g}, {share:.3g}, {xi:.3g}),  # {len(a)} symbol-runs')
        print(f"{name:16s} q90 {q90:8.3f}  q98 {q98:8.3f}  share>0 {share:5.2f}  xi p50 {np.nanmedian(xi_each):5.2f} "
              f"p75 {xi:5.2f}  ({len(a)} symbol-runs)")
    print(f"wall {time.perf_counter() - wall:.0f} s, CPU {time.process_time() - cpu + child.ru_utime + child.ru_stime:.0f} s")
    if args.write:
        text = (PRIORS_HEADER.format(real=args.real_days, sim=args.sim_seeds, hours=args.hours)
                + "PRIORS: dict[str, tuple[float, float, float, float]] = {\n" + "\n".join(lines) + "\n}\n")
        (ROOT / "virtuoso" / "detect" / "priors.py").write_text(text)
        print("wrote virtuoso/detect/priors.py")
    return 0


PRIORS_HEADER = '''"""Pooled tail priors of the detection statistics (generated: do not edit by hand).

Written by ``bench/calibrate_priors.py --write`` from calibration data only ({real} real-candle
calibration days and {sim} quiet simulated tuning seeds, {hours:g} h runs): per statistic, the upper
quartile across symbols of the 90 % and 98 % quantiles of its minutes above zero, of the share of
minutes above zero, and of the tail shape measured from the 90, 98 and 99.6 % quantiles. A symbol's alarm levels lean on these until its own history takes over
(``virtuoso.detect.calibration``).
"""

'''

if __name__ == "__main__":
    sys.exit(main())
