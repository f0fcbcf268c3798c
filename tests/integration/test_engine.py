"""The engine wires source -> parse -> state -> detection -> bus -> store, in background threads."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from virtuoso.config import load_settings
from virtuoso.app.engine import Engine
from virtuoso.storage.memory import MemoryStore

T0_MS = 1_700_000_040_000  # minute-aligned


class ListSource:
    """A Source twin that emits a fixed list of Bybit v5 messages, then waits for stop."""

    name = "replay"
    simulated = False
    can_block = True

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self.messages = messages
        self.emitted = 0

    def run(self, emit, stop: threading.Event) -> None:
        for m in self.messages:
            emit(m, int(m.get("ts", 0)) * 1_000_000)
            self.emitted += 1
        stop.wait()

    def health(self) -> dict[str, Any]:
        return {"emitted": self.emitted}


def _ticker(symbol: str, ts: int, price: str, oi: str) -> dict[str, Any]:
    return {
        "topic": f"tickers.{symbol}", "type": "snapshot", "cs": 1, "ts": ts,
        "data": {
            "symbol": symbol, "tickDirection": "PlusTick", "price24hPcnt": "0.01", "lastPrice": price,
            "prevPrice24h": price, "highPrice24h": price, "lowPrice24h": price, "prevPrice1h": price,
            "markPrice": price, "indexPrice": price, "openInterest": oi, "openInterestValue": "1000000",
            "turnover24h": "1000", "volume24h": "10", "nextFundingTime": str(ts + 3_600_000),
            "fundingRate": "0.0001", "bid1Price": price, "bid1Size": "1", "ask1Price": price, "ask1Size": "1",
        },
    }


def _trade(symbol: str, ts: int, price: str, size: str, side: str, i: int) -> dict[str, Any]:
    return {
        "topic": f"publicTrade.{symbol}", "type": "snapshot", "ts": ts,
        "data": [{"T": ts, "s": symbol, "S": side, "v": size, "p": price, "L": "PlusTick", "i": f"t{i}", "BT": False}],
    }


def _settings(tmp_path: Path, **env: str):
    return load_settings({"VIRTUOSO_DATA_DIR": str(tmp_path), "VIRTUOSO_SYMBOLS": "BTCUSDT", **env}, env_file=None)


def test_messages_from_a_source_reach_market_state_and_closed_bars_reach_the_store(tmp_path):
    msgs = [_ticker("BTCUSDT", T0_MS, "60000", "5000")]
    msgs += [_trade("BTCUSDT", T0_MS + i * 1_000, "60000", "0.5", "Buy" if i % 2 else "Sell", i) for i in range(1, 130)]
    store = MemoryStore()
    engine = Engine(_settings(tmp_path), source=ListSource(msgs), store=store).start()
    try:
        assert engine.wait_until(lambda e: e.health()["pipeline"].get("messages", 0) >= len(msgs), 10)
        snap = engine.snapshots()["BTCUSDT"]
        assert snap.last_price == 60000 and snap.open_interest == 5000 and not snap.simulated
        assert engine.wait_until(lambda e: len(store.read_bars("BTCUSDT", 0, 2**62)) >= 1, 10)
        bar = store.read_bars("BTCUSDT", 0, 2**62)[0]
        assert bar.start_ms == T0_MS and bar.volume == 0.5 * 59  # trades 1..59 fall in the first minute
        assert engine.bars_1m("BTCUSDT", 10_000_000) != []
    finally:
        engine.stop()
    assert not engine.ingestion_threads()


def test_applied_thresholds_reach_the_detectors_and_survive_a_restart(tmp_path):
    # The runner takes them at its next second boundary (tests/unit/test_detect_runner.py pins that),
    # so an alert's evidence never names other thresholds than its level.
    settings = _settings(tmp_path)
    engine = Engine(settings, source=ListSource([]), store=MemoryStore()).start()
    try:
        changed = engine.thresholds().model_copy(update={"oi_min_pct": 7.5})
        engine.apply_thresholds(changed)
        assert engine.thresholds().oi_min_pct == 7.5
        assert engine.detection is not None
        assert engine.detection.next_thresholds().oi_min_pct == 7.5
    finally:
        engine.stop()
    again = Engine(settings, source=ListSource([]), store=MemoryStore())
    assert again.thresholds().oi_min_pct == 7.5


def test_the_simulator_source_is_labelled_simulated_everywhere_the_engine_reports_it(tmp_path):
    engine = Engine(_settings(tmp_path, VIRTUOSO_SOURCE="simulator")).start()
    try:
        assert engine.source_info().simulated
        assert engine.wait_until(lambda e: "BTCUSDT" in e.snapshots() and e.snapshots()["BTCUSDT"].last_price > 0, 20)
        assert engine.snapshots()["BTCUSDT"].simulated
        assert engine.health()["source"]["simulated"] is True
    finally:
        engine.stop()


def test_auto_source_falls_back_to_the_simulator_with_a_reason_when_bybit_is_unreachable(tmp_path):
    engine = Engine(
        _settings(
            tmp_path,
            VIRTUOSO_BYBIT__WS_URL="ws://127.0.0.1:9/v5/public/linear",
            VIRTUOSO_BYBIT__REST_URL="http://127.0.0.1:9",
            VIRTUOSO_BYBIT__CONNECT_TIMEOUT_S="2",
        )
    ).start()
    try:
        info = engine.source_info()
        assert info.name == "simulator" and info.simulated
        assert "unreachable" in info.reason
    finally:
        engine.stop()


def test_virtuoso_run_is_headless_writes_health_and_stops_cleanly_on_sigterm(tmp_path):
    env = {
        **os.environ,
        "VIRTUOSO_DATA_DIR": str(tmp_path),
        "VIRTUOSO_SOURCE": "simulator",
        "VIRTUOSO_SYMBOLS": "BTCUSDT,ETHUSDT",
        "VIRTUOSO_RELAY__PORT": "0",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "virtuoso.app.cli", "run"], env=env, cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    health_path = tmp_path / "health.json"
    try:
        deadline = time.monotonic() + 60
        health: dict[str, Any] = {}
        while time.monotonic() < deadline:
            if health_path.exists():
                health = json.loads(health_path.read_text())
                if health.get("pipeline", {}).get("messages", 0) > 0:
                    break
            time.sleep(0.5)
        assert health.get("source", {}).get("name") == "simulator"
        assert health["pipeline"]["messages"] > 0
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "stopped cleanly" in out
    assert (tmp_path / "virtuoso.db").exists()


class _FloodSource(ListSource):
    """Emits its messages as fast as it can, then waits; says whether it can block."""

    def __init__(self, name: str, can_block: bool, messages: list[dict[str, Any]]) -> None:
        super().__init__(messages)
        self.name = name
        self.can_block = can_block


def _flood(n: int) -> list[dict[str, Any]]:
    return [_trade("BTCUSDT", T0_MS + i * 10, "60000", "0.5", "Buy", i) for i in range(n)]


def test_a_source_that_can_block_waits_for_a_full_queue_instead_of_dropping_whatever_its_name(tmp_path):
    msgs = _flood(20_000)
    for name in ("simulator", "replay", "recorded-file"):
        engine = Engine(_settings(tmp_path / name, VIRTUOSO_STATE__QUEUE_MAX="1000"),
                        source=_FloodSource(name, True, msgs), store=MemoryStore()).start()
        try:
            assert engine.wait_until(lambda e: e.health()["pipeline"].get("messages", 0) >= len(msgs), 60), name
            assert engine.health()["pipeline"]["queue_dropped"] == 0
        finally:
            engine.stop()


def test_a_live_source_never_waits_it_drops_and_counts_when_the_pipeline_falls_behind(tmp_path):
    msgs = _flood(50_000)
    source = _FloodSource("replay", False, msgs)  # the name is a label: can_block decides
    engine = Engine(_settings(tmp_path, VIRTUOSO_STATE__QUEUE_MAX="1000"), source=source, store=MemoryStore()).start()
    try:
        assert engine.wait_until(lambda e: source.emitted == len(msgs), 60)
        assert engine.wait_until(lambda e: e.health()["pipeline"]["queue_depth"] == 0, 30)
        h = engine.health()["pipeline"]
        assert h["queue_dropped"] > 0 and h["messages"] + h["queue_dropped"] == len(msgs)
    finally:
        engine.stop()


def test_the_real_sources_say_whether_they_can_block():
    from virtuoso.ingest.bybit.source import BybitSource
    from virtuoso.ingest.replay import ReplaySource
    from virtuoso.ingest.simulator import SimulatorSource

    assert SimulatorSource.can_block and ReplaySource.can_block and not BybitSource.can_block
