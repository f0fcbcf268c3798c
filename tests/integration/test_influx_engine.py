"""The engine with VIRTUOSO_STORAGE__BACKEND=influxdb: bars and alerts reach InfluxDB and the
dashboard's history readers (MonitorView.bars_1m, alerts, health) work on it."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.integration.test_influx_store import alert, same_bar
from virtuoso.app.engine import Engine
from virtuoso.config import load_settings
from virtuoso.domain.clock import ManualClock
from virtuoso.app.build import build_history_store
from virtuoso.storage.influx import InfluxStore
from virtuoso.storage.sqlite import SqliteStore

pytestmark = pytest.mark.influx

T0_MS = 1_700_000_040_000  # minute-aligned


class ListSource:
    """Emits a fixed list of Bybit v5 messages, then waits for stop."""

    name = "replay"
    can_block = True
    simulated = False

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self.messages = messages

    def run(self, emit, stop: threading.Event) -> None:
        for m in self.messages:
            emit(m, int(m["ts"]) * 1_000_000)
        stop.wait()

    def health(self) -> dict[str, Any]:
        return {}


def _ticker(ts: int, oi: str) -> dict[str, Any]:
    return {"topic": "tickers.BTCUSDT", "type": "snapshot", "cs": 1, "ts": ts,
            "data": {"symbol": "BTCUSDT", "lastPrice": "60000", "markPrice": "60000", "indexPrice": "60000",
                     "openInterest": oi, "openInterestValue": "1000000", "fundingRate": "0.0001",
                     "turnover24h": "1000", "volume24h": "10", "bid1Price": "59999", "ask1Price": "60001",
                     "bid1Size": "1", "ask1Size": "1", "nextFundingTime": str(ts + 3_600_000)}}


def _trade(ts: int, i: int) -> dict[str, Any]:
    return {"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": ts,
            "data": [{"T": ts, "s": "BTCUSDT", "S": "Buy" if i % 2 else "Sell", "v": "0.5", "p": str(60000 + i),
                      "L": "PlusTick", "i": f"t{i}", "BT": False}]}


def _settings(tmp_path, server, db: str, **env: str):
    base = {"VIRTUOSO_DATA_DIR": str(tmp_path), "VIRTUOSO_SYMBOLS": "BTCUSDT",
            "VIRTUOSO_STORAGE__BACKEND": "influxdb", "VIRTUOSO_INFLUX__URL": server.url,
            "VIRTUOSO_INFLUX__DATABASE": db, "VIRTUOSO_INFLUX__FLUSH_INTERVAL_S": "0.1",
            "VIRTUOSO_RELAY__ENABLED": "false", "VIRTUOSO_TRADING__ENABLED": "false"}
    return load_settings({**base, **env}, env_file=None)


def test_the_factory_builds_sqlite_by_default_and_influxdb_when_asked(influx_server, tmp_path):
    clock = ManualClock(T0_MS)
    sqlite = build_history_store(load_settings({"VIRTUOSO_DATA_DIR": str(tmp_path)}, env_file=None), clock)
    influx = build_history_store(_settings(tmp_path, influx_server, "factory_db"), clock)
    try:
        assert isinstance(sqlite, SqliteStore) and sqlite.path == tmp_path / "virtuoso.db"
        assert isinstance(influx, InfluxStore) and influx.spill.path == tmp_path / "virtuoso.db"
    finally:
        sqlite.close()
        influx.close()


def test_the_engine_writes_history_to_influxdb_and_the_dashboard_readers_read_it_back(influx_server, tmp_path):
    db = f"engine_{tmp_path.name[-12:].replace('-', '_')}"
    msgs = [_ticker(T0_MS, "5000")] + [_trade(T0_MS + i * 1_000, i) for i in range(1, 200)]
    clock = ManualClock(T0_MS + 10 * 60_000)
    first = Engine(_settings(tmp_path / "a", influx_server, db), clock, source=ListSource(msgs)).start()
    try:
        assert isinstance(first.store, InfluxStore)
        assert first.wait_until(lambda e: e.health()["pipeline"].get("messages", 0) >= len(msgs), 20)
        assert first.wait_until(lambda e: len(e.store.read_bars("BTCUSDT", 0, 2**53)) >= 3, 20)
        first.bus.publish_alerts([alert("BTCUSDT", 1)])
        live_bars = first.state.bars_1m("BTCUSDT")
        storage = first.health()["storage"]
        assert storage["backend"] == "influxdb" and "backlog" in storage and "state" in storage
    finally:
        first.stop()
    stored = influx_server.query('SELECT COUNT("close") FROM "bars_1m"', db)["results"][0]["series"][0]["values"]
    assert stored[0][1] == len(live_bars) >= 3

    # A second engine with an empty source and no reload: history comes only from InfluxDB.
    second = Engine(_settings(tmp_path / "b", influx_server, db, VIRTUOSO_STORAGE__RELOAD_MINUTES="0"), clock,
                    source=ListSource([])).start()
    try:
        assert second.wait_until(lambda e: e.state is not None, 10)
        history = second.bars_1m("BTCUSDT", 60)
        assert len(history) == len(live_bars) and all(same_bar(a, b) for a, b in zip(history, live_bars))
        assert history[0].open_interest == 5000.0
        assert [a.id for a in second.alerts(since_ms=0)] == ["id0001"]
        assert second.health()["storage"]["state"] == "up"
    finally:
        second.stop()
