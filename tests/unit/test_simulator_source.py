"""SimulatorSource: warm-up history ending at now, then live paced messages; stops promptly."""

from __future__ import annotations

import threading
import time

from virtuoso.config import load_settings
from virtuoso.domain.clock import ManualClock
from virtuoso.ingest.bybit.parse import BybitParser
from virtuoso.ingest.simulator import SimulatorSource

NOW_MS = 1_736_121_600_500


def settings(**env: str):
    base = {"VIRTUOSO_SOURCE": "simulator", "VIRTUOSO_SYMBOLS": "BTCUSDT,ETHUSDT"}
    base.update(env)
    return load_settings(base, env_file=None)


class Collector:
    def __init__(self) -> None:
        self.items: list[tuple[dict, int]] = []

    def __call__(self, msg: dict, ts_recv_ns: int) -> None:
        self.items.append((msg, ts_recv_ns))


def run_for(source: SimulatorSource, seconds: float) -> tuple[Collector, float]:
    got, stop = Collector(), threading.Event()
    t = threading.Thread(target=source.run, args=(got, stop), daemon=True)
    t.start()
    time.sleep(seconds)
    asked = time.monotonic()
    stop.set()
    t.join(5)
    assert not t.is_alive()
    return got, time.monotonic() - asked


def test_it_warms_up_with_history_ending_at_now_then_goes_live():
    clock = ManualClock(NOW_MS)
    src = SimulatorSource(settings(VIRTUOSO_SIMULATOR__SPEED="20"), clock, warmup_min=3)
    assert src.name == "simulator" and src.simulated is True
    got, _ = run_for(src, 1.5)
    ts = [m["ts"] for m, _ in got.items]
    assert ts[0] == NOW_MS - 500 - 180_000  # whole seconds, 3 minutes back
    assert ts == sorted(ts)
    assert max(ts) > NOW_MS + 5_000  # live at 20x for over a second
    assert all(ns == clock.now_ns() for _, ns in got.items)
    parser = BybitParser()
    for m, ns in got.items:
        parser.parse(m, ns)
    assert parser.malformed == 0 and parser.events > 1_000
    h = src.health()
    assert h["phase"] == "stopped" and h["messages"] == len(got.items) and h["seed"] == 7
    assert {"msgs_per_s", "episodes", "sim_time_ms", "speed"} <= set(h)


def test_live_messages_are_not_released_before_their_time():
    src = SimulatorSource(settings(), ManualClock(NOW_MS), warmup_min=0)
    started = time.monotonic()
    got, _ = run_for(src, 1.2)
    ts = [m["ts"] for m, _ in got.items]
    assert ts and max(ts) - (NOW_MS - 500) <= (time.monotonic() - started) * 1000 + 50


def test_it_stops_promptly_when_stop_is_set_even_during_warm_up():
    src = SimulatorSource(settings(), ManualClock(NOW_MS), warmup_min=600, warmup_max_msgs_per_s=2_000)
    got, took_s = run_for(src, 0.3)
    assert took_s < 1.0
    assert 0 < len(got.items) < 20_000 and src.health()["phase"] == "stopped"


def test_the_engine_on_default_simulator_settings_shows_prices_within_seconds(tmp_path):
    from virtuoso.app.engine import Engine
    from virtuoso.storage.memory import MemoryStore

    s = settings(VIRTUOSO_DATA_DIR=str(tmp_path), VIRTUOSO_SYMBOLS="BTCUSDT,ETHUSDT,SOLUSDT,XRPUSDT,DOGEUSDT")
    engine = Engine(s, store=MemoryStore()).start()
    try:
        assert engine.source_info().simulated is True
        assert engine.wait_until(lambda e: len(e.snapshots()) == 5 and len(e.bars_1m("BTCUSDT", 120)) >= 30, 20)
        assert engine.health()["source"]["phase"] in ("warmup", "live")
    finally:
        engine.stop()
