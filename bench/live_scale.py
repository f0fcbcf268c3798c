"""``virtuoso run`` live at 500 symbols: the frames/s it carries, and the CPU it takes to carry them.

    .venv/bin/python bench/live_scale.py                         # 500 symbols, 6,000 frames/s, 60 s
    .venv/bin/python bench/live_scale.py --rate 0 --seconds 30   # unpaced: whatever the server sends

The local Bybit server (tests/bybit_server.py, in this process) streams tickers, trades and
liquidations for ``--symbols`` instruments at ``--rate`` data frames a second over all
connections (a tick every 0.1 s, ticks stretched to the rate); ``virtuoso run`` (a subprocess,
``VIRTUOSO_SYMBOLS=all``, 60 minutes of REST backfill at start) follows them. After ``--warmup``
seconds it measures, over ``--seconds``: frames/s sent, messages/s the pipeline ran (from
health.json), the engine process's CPU seconds per wall second (from /proc, all its threads),
this process's (the server's), the pipeline lag and what was dropped. Nothing is asserted
(tests/integration/test_scale_run.py asserts); real Bybit for every linear perpetual pushes
several thousand messages a second.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.bybit_server import BybitServer, fast_env, universe_names  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (every thread)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def health(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--symbols", type=int, default=500)
    ap.add_argument("--rate", type=float, default=6000.0, help="data frames/s over all connections (0: unpaced)")
    ap.add_argument("--warmup", type=float, default=30.0, help="seconds before measuring (start-up, backfill)")
    ap.add_argument("--seconds", type=float, default=60.0, help="measured window")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, BybitServer(universe_names(args.symbols), interval_s=0.1,
                                                           instruments_page_max=200, frames_per_s=args.rate or None) as srv:
        data = Path(tmp) / "data"
        env = fast_env(srv, VIRTUOSO_SYMBOLS="all", VIRTUOSO_SOURCE="bybit", VIRTUOSO_DATA_DIR=str(data),
                       VIRTUOSO_BYBIT__STALE_AFTER_S="20", VIRTUOSO_BYBIT__BACKFILL_MINUTES="60", VIRTUOSO_LOG_LEVEL="WARNING")
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("VIRTUOSO_")}, **env, "PYTHONPATH": str(ROOT)}
        seconds = int(args.warmup + args.seconds + 30)
        proc = subprocess.Popen([sys.executable, "-m", "virtuoso.app.cli", "run", "--seconds", str(seconds)], cwd=tmp,
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            t_start = time.monotonic()
            time.sleep(args.warmup)
            h0, w0, e0, s0, f0 = health(data / "health.json"), time.monotonic(), cpu_s(proc.pid), time.process_time(), srv.frames_sent
            start_cpu = e0
            worst_lag, worst_depth = 0.0, 0
            while time.monotonic() - w0 < args.seconds and proc.poll() is None:
                time.sleep(2)
                p = health(data / "health.json").get("pipeline") or {}
                worst_lag = max(worst_lag, float(p.get("lag_ms") or 0))
                worst_depth = max(worst_depth, int(p.get("queue_depth") or 0))
            h1, w1, e1, s1, f1 = health(data / "health.json"), time.monotonic(), cpu_s(proc.pid), time.process_time(), srv.frames_sent
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=60)
    wall = w1 - w0
    p0, p1 = h0.get("pipeline") or {}, h1.get("pipeline") or {}
    msgs = (p1.get("messages") or 0) - (p0.get("messages") or 0)
    rows = [
        ("symbols followed / live", f"{(h1.get('universe') or {}).get('symbols')} / {(h1.get('universe') or {}).get('live')}"),
        ("server frames/s (asked)", f"{(f1 - f0) / wall:,.0f} ({args.rate:,.0f})" if args.rate else f"{(f1 - f0) / wall:,.0f} (unpaced)"),
        ("pipeline msgs/s", f"{msgs / wall:,.0f}"),
        ("engine CPU s per wall s", f"{(e1 - e0) / wall:.2f}"),
        ("engine CPU per message", f"{(e1 - e0) / max(1, msgs) * 1e6:,.0f} us"),
        ("engine CPU during warm-up", f"{start_cpu:.1f} s in {args.warmup:.0f} s"),
        ("server CPU s per wall s", f"{(s1 - s0) / wall:.2f}"),
        ("lag at end / worst", f"{float(p1.get('lag_ms') or 0):,.0f} / {worst_lag:,.0f} ms"),
        ("queue depth worst, dropped", f"{worst_depth:,}, {p1.get('queue_dropped')}"),
        ("measured over", f"{wall:.0f} s wall after {w0 - t_start:.0f} s warm-up"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    if err.strip():
        print("engine stderr (tail):", err[-800:], file=sys.stderr)


if __name__ == "__main__":
    main()
