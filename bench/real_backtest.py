"""False alarms of the threshold backtest on real 1-minute candles, per alert budget.

    .venv/bin/python bench/real_backtest.py [calibration|held_out] [WATCH/HIGH,...]

Reads ../shared/data/real (see its PROVENANCE.md), takes the calibration (default) or held-out
days, and counts the flags the backtest raises at each budget pair, per symbol-day. The candles
carry no open interest and no liquidations, and takers are split half and half, so only the price,
volume and market kinds can fire: the figure is the share of the budget those kinds use.
"""

import collections
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np
from virtuoso.ingest.candles.data import load_real, split_days, DAY_MS
from virtuoso.domain.bars import Bar
from virtuoso.detect.backtest import prepare, flags_for
from virtuoso.config import DetectionSettings, AlertPolicySettings
part = sys.argv[1] if len(sys.argv) > 1 else "calibration"
pairs = sys.argv[2] if len(sys.argv) > 2 else "0.5/0.05,1/0.05,2/0.05"
data = load_real()
days = split_days(data)[part]
a, b = days[0], days[-1] + DAY_MS
bars = {}
for s, sc in data.items():
    sl = sc.window(a, b)
    px = lambda arr: arr[sl] * sc.tick
    o, h, l, c = px(sc.open), px(sc.high), px(sc.low), px(sc.close)
    v = sc.volume_lots[sl] * sc.qty_step
    fr = np.interp(sc.ts_ms[sl], sc.funding_ts_ms, sc.funding_rate) if len(sc.funding_ts_ms) else np.zeros(len(v))
    bars[s] = [Bar(s, int(t), 60, float(o[i]), float(h[i]), float(l[i]), float(c[i]), float(v[i]), float(v[i]*c[i]),
                   max(1, int(v[i] > 0)), float(v[i]/2), float(v[i]/2), float("nan"), float(fr[i]), 0.0, 0.0, False)
               for i, t in enumerate(sc.ts_ms[sl])]
sd = sum(len(x) for x in bars.values()) / 1440
t, c = time.perf_counter(), time.process_time()
prep = prepare(bars)
print(f"{part}: {len(days)} days, {sd:.0f} symbol-days; prepare {time.process_time() - c:.1f} s CPU, "
      f"{time.perf_counter() - t:.1f} s wall")
for w, hi in [tuple(map(float, x.split("/"))) for x in pairs.split(",")]:
    fl = flags_for(prep, DetectionSettings(watch_per_day=w, high_per_day=hi), AlertPolicySettings())
    sev = collections.Counter(f.severity.value for f in fl)
    kinds = collections.Counter(f.kind.value for f in fl)
    wp = sum(v for k, v in sev.items() if k != "info"); hp = sev.get("high", 0) + sev.get("critical", 0)
    print(f"budget {w}/{hi}: {len(fl)} flags; watch+ {wp/sd:.3f}/sd, high+ {hp/sd:.3f}/sd; {dict(kinds)}")
