"""Dashboard benchmark: server-side render time per page, backtest preview on a slider move, memory.

1. Render: each page run through ``streamlit.testing.v1.AppTest`` (a full script run, so an upper
   bound of one live-fragment refresh) on a MonitorView twin with N symbols and a day of 1-minute
   history each: first render, then the median of repeated refreshes. Goal: <= 150 ms per refresh.
2. Preview: the Detection tuning page rerun after a slider move (backtest over the whole history),
   cold, and the direct backtest call.
3. Memory: the real Engine on the simulator at N symbols, run faster than real time for M simulated
   minutes (after its warm-up hour; at 20x by default, as fast as 50 symbols go without dropping)
   while the Overview renders every wall second; RSS after warm-up and at the end.

Run: ``.venv/bin/python bench/dashboard.py [--symbols 50] [--refreshes 10] [--minutes 60] [--speed 20]``
(``--minutes 0`` skips the memory run).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
logging.getLogger("streamlit").setLevel(logging.ERROR)

from streamlit.testing.v1 import AppTest  # noqa: E402

from tests.ui_factories import FakeView, T0_MS, ui_settings  # noqa: E402
from virtuoso.ui import keys, tuning  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PAGES = {"Overview": None, "Market": "pages/market.py", "Alerts": "pages/alerts.py", "Detection tuning": "pages/tuning.py",
         "Reports": "pages/reports.py", "Health": "pages/health.py"}


def _symbols(n: int) -> list[str]:
    base = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    return (base + [f"SYM{i:02d}USDT" for i in range(n)])[:n]


def _app(view, page: str | None) -> tuple[AppTest, float]:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=300)
    at.session_state[keys.VIEW] = view
    t0 = time.perf_counter()
    at.run()
    if page:
        at.switch_page(page).run()
    return at, (time.perf_counter() - t0) * 1000


def bench_render(n: int, refreshes: int, data_dir: Path) -> None:
    syms = _symbols(n)
    view = FakeView(ui_settings(data_dir, VIRTUOSO_SYMBOLS=",".join(syms)), symbols=syms)
    print(f"== render ({n} symbols, {sum(len(view.bars_1m(s, 1440)) for s in syms):,} one-minute bars, AppTest)")
    for name, page in PAGES.items():
        at, first_ms = _app(view, page)
        assert not at.exception, at.exception
        times = []
        for _ in range(refreshes):
            view.tick(1)
            t0 = time.perf_counter()
            at.run()
            times.append((time.perf_counter() - t0) * 1000)
        print(f"{name:18s} first render {first_ms:7.0f} ms   refresh median {statistics.median(times):6.0f} ms  "
              f"p90 {sorted(times)[int(0.9 * (len(times) - 1))]:6.0f} ms")


def bench_preview(n: int, data_dir: Path) -> None:
    bt = tuning.load_backtest()
    if bt is None:
        print("== preview: virtuoso.detect.backtest not available")
        return
    syms = _symbols(n)
    view = FakeView(ui_settings(data_dir, VIRTUOSO_SYMBOLS=",".join(syms)), symbols=syms)
    at, _ = _app(view, "pages/tuning.py")
    times = []
    for v in (0.4, 0.6, 0.7, 0.3, 0.25):
        at.slider(key=keys.tune_key("watch_per_day")).set_value(v)
        t0 = time.perf_counter()
        at.run()
        times.append((time.perf_counter() - t0) * 1000)
    history = {s: view.bars_1m(s, 1440) for s in syms}
    t0 = time.perf_counter()
    flags = bt.flags(history, view.thresholds())
    direct_ms = (time.perf_counter() - t0) * 1000
    print(f"== preview ({n} symbols x 24 h): slider move -> page rerun median {statistics.median(times):.0f} ms "
          f"(max {max(times):.0f}); backtest_flags alone {direct_ms:.0f} ms, {len(flags)} flags")


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def bench_memory(n: int, minutes: float, speed: float, data_dir: Path) -> None:
    from virtuoso.app.engine import Engine

    syms = _symbols(n)
    settings = ui_settings(data_dir, VIRTUOSO_SYMBOLS=",".join(syms), VIRTUOSO_SIMULATOR__SPEED=str(speed))
    engine = Engine(settings).start()
    _wait_live(engine)
    dropped0 = engine.health()["pipeline"].get("queue_dropped") or 0
    wall_s = minutes * 60 / speed
    print(f"== memory: real Engine, simulator at {speed:g}x, {n} symbols, {minutes:g} simulated min ({wall_s:.0f} s wall)")
    try:
        at, _ = _app(engine, None)
        samples: list[tuple[float, float]] = []
        renders: list[float] = []
        t_start = time.monotonic()
        ev0 = _newest_event_ms(engine)
        while time.monotonic() - t_start < wall_s * 3:  # a slow machine gets more wall time
            sim_min = (_newest_event_ms(engine) - ev0) / 60_000
            if sim_min >= minutes:
                break
            t0 = time.perf_counter()
            at.run()
            render_ms = (time.perf_counter() - t0) * 1000
            renders.append(render_ms)
            samples.append((sim_min, _rss_mb()))
            time.sleep(max(0.0, 1.0 - render_ms / 1000))
        # Warm-up: until the 1-second bars fill their retention (state.retention_1s_s), memory grows by design.
        warm_min = min(settings.state.retention_1s_s / 60 + 5, minutes * 0.6)
        warm = next((rss for m, rss in samples if m >= warm_min), samples[0][1])
        end = samples[-1][1]
        h = engine.health()["pipeline"]
        print(f"simulated {samples[-1][0]:.0f} min in {time.monotonic() - t_start:.0f} s wall; "
              f"RSS at start {samples[0][1]:.0f} MB, after warm-up ({warm_min:.0f} sim min) {warm:.0f} MB, at end "
              f"{end:.0f} MB: growth after warm-up {(end / warm - 1) * 100:+.1f} %; queue dropped {(h.get('queue_dropped') or 0) - dropped0} "
              f"(during the warm-up hour {dropped0}); "
              f"Overview render under load median {statistics.median(renders):.0f} ms")
    finally:
        engine.stop()


def _wait_live(engine, timeout_s: float = 600) -> None:
    """Wait until the simulator has replayed its warm-up hour and the pipeline has caught up:
    measuring during the warm-up would measure the warm-up, which runs at full speed."""
    engine.wait_until(lambda e: e.health()["source"].get("phase") == "live"
                      and e.health()["pipeline"]["queue_depth"] < 100, timeout_s=timeout_s)


def _newest_event_ms(engine) -> int:
    return max((s.ts_event_ms for s in engine.snapshots().values()), default=0)


def bench_engine_render(n: int, refreshes: int, data_dir: Path) -> None:
    """Overview and Market refresh on the real Engine with the simulator at real-time speed."""
    from virtuoso.app.engine import Engine

    syms = _symbols(n)
    engine = Engine(ui_settings(data_dir, VIRTUOSO_SYMBOLS=",".join(syms))).start()
    try:
        _wait_live(engine)
        print(f"== render on the real Engine (simulator 1x, {n} symbols, after its warm-up hour)")
        for name in ("Overview", "Market"):
            at, first_ms = _app(engine, PAGES[name])
            times = []
            for _ in range(refreshes):
                time.sleep(0.6)  # past the half-second reader cache, like a 1 s refresh
                t0 = time.perf_counter()
                at.run()
                times.append((time.perf_counter() - t0) * 1000)
            print(f"{name:18s} first render {first_ms:7.0f} ms   refresh median {statistics.median(times):6.0f} ms  "
                  f"max {max(times):6.0f} ms")
    finally:
        engine.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--symbols", type=int, default=50)
    ap.add_argument("--refreshes", type=int, default=10)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--speed", type=float, default=20.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_render(args.symbols, args.refreshes, Path(tmp) / "render")
        bench_preview(args.symbols, Path(tmp) / "preview")
        if args.minutes > 0:
            try:
                bench_engine_render(args.symbols, args.refreshes, Path(tmp) / "engine")
                bench_memory(args.symbols, args.minutes, args.speed, Path(tmp) / "memory")
            except ModuleNotFoundError as exc:
                print(f"== memory: skipped ({exc})")


if __name__ == "__main__":
    main()
