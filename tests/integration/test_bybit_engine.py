"""The engine with VIRTUOSO_SOURCE=bybit against the local Bybit v5 server, through real pybit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.bybit_server import BybitServer, fast_env, now_ms
from virtuoso.app.engine import Engine
from virtuoso.config import load_settings
from virtuoso.storage.memory import MemoryStore

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def quiet_server() -> Iterator[BybitServer]:
    with BybitServer(("BTCUSDT",), auto_stream=False) as srv:
        yield srv


@pytest.fixture
def server() -> Iterator[BybitServer]:
    with BybitServer(("BTCUSDT", "ETHUSDT"), interval_s=0.05) as srv:
        yield srv


def _engine(server: BybitServer, tmp_path: Path, **env: str) -> Engine:
    env = {"VIRTUOSO_SOURCE": "bybit", "VIRTUOSO_DATA_DIR": str(tmp_path), **env}
    settings = load_settings(fast_env(server, **env), env_file=None)
    return Engine(settings, store=MemoryStore())


def _ticker(ts: int, typ: str, data: dict) -> dict:
    return {"topic": "tickers.BTCUSDT", "type": typ, "data": {"symbol": "BTCUSDT", **data}, "cs": ts, "ts": ts}


def test_ticker_snapshot_and_delta_from_the_server_merge_into_market_state(quiet_server, tmp_path):
    engine = _engine(quiet_server, tmp_path, VIRTUOSO_BYBIT__STALE_AFTER_S="60").start()
    try:
        assert engine.wait_until(lambda e: "tickers.BTCUSDT" in quiet_server.subscribed_topics(), 10)
        ts = now_ms()
        quiet_server.push(_ticker(ts, "snapshot", {
            "lastPrice": "60000.5", "markPrice": "60001", "indexPrice": "59999", "openInterest": "5000.5",
            "openInterestValue": "300000000", "fundingRate": "0.0001", "nextFundingTime": str(ts + 3_600_000),
            "volume24h": "100", "turnover24h": "6000000", "bid1Price": "60000", "bid1Size": "1",
            "ask1Price": "60001", "ask1Size": "2",
        }))
        quiet_server.push(_ticker(ts + 100, "delta", {"lastPrice": "60123.5", "bid1Price": "60123"}))
        assert engine.wait_until(lambda e: e.snapshots()["BTCUSDT"].bid_price == 60123, 10)
        snap = engine.snapshots()["BTCUSDT"]
        # fields the delta did not carry are kept from the snapshot
        assert snap.open_interest == 5000.5 and snap.mark_price == 60001 and snap.ask_price == 60001
        assert not snap.simulated
        quiet_server.push({"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": ts + 200, "data": [
            {"T": ts + 200, "s": "BTCUSDT", "S": "Buy", "v": "0.25", "p": "60124", "L": "PlusTick", "i": "a1", "BT": False}]})
        assert engine.wait_until(lambda e: e.snapshots()["BTCUSDT"].last_price == 60124, 10)
        # REST backfill at start filled 1-minute history with open interest
        assert engine.wait_until(lambda e: len(e.bars_1m("BTCUSDT", 40)) >= 29, 10)
        bars = engine.bars_1m("BTCUSDT", 40)
        assert all(b.open_interest == b.open_interest for b in bars[:-1])  # not NaN
        src = engine.health()["source"]
        assert src["name"] == "bybit" and src["connected"] and src["backfill"]["state"] == "done"
    finally:
        engine.stop()


def test_one_ingestion_thread_streams_on_through_server_drops(server, tmp_path):
    engine = _engine(server, tmp_path).start()
    try:
        assert engine.wait_until(lambda e: e.health()["pipeline"].get("messages", 0) > 50, 10)
        for n in (1, 2):
            server.drop_all()
            assert engine.wait_until(lambda e: e.health()["source"]["reconnects"] == n and e.health()["source"]["connected"], 5)
        seen = engine.health()["pipeline"]["messages"]
        assert engine.wait_until(lambda e: e.health()["pipeline"]["messages"] > seen + 50, 5)
        assert len(engine.ingestion_threads()) == 1
        snap = engine.snapshots()
        assert snap["BTCUSDT"].last_price > 0 and snap["ETHUSDT"].last_price > 0
        assert engine.health()["pipeline"].get("malformed", 0) == 0
    finally:
        engine.stop()
    assert engine.ingestion_threads() == []


def test_the_auto_source_picks_bybit_when_the_server_answers(server, tmp_path):
    engine = _engine(server, tmp_path, VIRTUOSO_SOURCE="auto")
    engine.start()
    try:
        info = engine.source_info()
        assert info.name == "bybit" and not info.simulated and "reachable" in info.reason
    finally:
        engine.stop()


@pytest.mark.slow
def test_virtuoso_run_headless_against_the_server_writes_health_showing_the_stream(server, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIRTUOSO_")}
    env.update(fast_env(server, VIRTUOSO_SOURCE="bybit", VIRTUOSO_DATA_DIR=str(tmp_path)))
    proc = subprocess.run(
        [sys.executable, "-m", "virtuoso.app.cli", "run", "--seconds", "4"],
        cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    health = json.loads((tmp_path / "health.json").read_text())
    src = health["source"]
    assert src["name"] == "bybit" and src["data_messages"] > 20 and src["topics_acked"] == 8
    assert health["pipeline"]["messages"] > 20
