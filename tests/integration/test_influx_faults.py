"""influxd killed mid-stream and restarted: every point arrives, none twice, in order."""

from __future__ import annotations

import threading
import time

import pytest

from tests.influx_server import InfluxServer, influxd_path
from tests.integration.test_influx_store import T0, alert, bar, make_store

pytestmark = [pytest.mark.influx, pytest.mark.slow]

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOL USDT", "X,Y=Z", "DOGE\\USDT"]


@pytest.fixture
def own_server(tmp_path):
    root = tmp_path / "influxd"
    root.mkdir()
    server = InfluxServer(root, influxd_path()).start()
    try:
        yield server
    finally:
        server.stop()


def _count(server: InfluxServer, db: str, measurement: str, field: str) -> int:
    res = server.query(f'SELECT COUNT("{field}") FROM "{measurement}"', db)["results"][0]
    return sum(row[1] for s in res.get("series", []) for row in s["values"])


def test_influxd_killed_mid_stream_loses_nothing_and_duplicates_nothing(own_server, tmp_path):
    db = own_server.create_database()
    store = make_store(own_server, tmp_path, db=db, batch_size=250, buffer_max_points=2_000, attempts=2)
    expected: dict[tuple[str, int], float] = {}
    phases = {"before": 0, "during": 0, "after": 0}
    phase = ["before"]
    down_seen = threading.Event()

    def produce(n_minutes: int, offset: int) -> None:
        for i in range(offset, offset + n_minutes):
            bars = [bar(s, i) for s in SYMBOLS]
            if i % 7 == 0 and i > 0:  # a later version of an earlier bar: it must win
                bars.append(bar(SYMBOLS[0], i - 1, close=-float(i)))
            store.write_bars(bars)
            for b in bars:
                expected[(b.symbol, b.start_ms)] = b.close
            phases[phase[0]] += len(bars)
            if store.health()["state"] == "down":
                down_seen.set()
            time.sleep(0.001)

    try:
        produce(600, 0)
        own_server.kill()
        phase[0] = "during"
        t0 = time.monotonic()
        offset = 600
        while time.monotonic() - t0 < 2.0 or not down_seen.is_set():
            produce(100, offset)
            offset += 100
            assert time.monotonic() - t0 < 30, "the store never noticed influxd was gone"
        store.write_alerts([alert(SYMBOLS[3], 1)])
        own_server.start()
        phase[0] = "after"
        produce(600, offset)
        assert store.flush(120), store.health()
        h = store.health()
        assert h["backlog"] == 0 and h["spilled_total"] > 0 and h["rejected"] == 0 and h["state"] == "up"
        assert all(phases.values()), phases
        assert _count(own_server, db, "bars_1m", "close") == len(expected)
        for symbol in SYMBOLS:
            got = store.read_bars(symbol, 0, 2**53)
            want = sorted((t, c) for (s, t), c in expected.items() if s == symbol)
            assert [(b.start_ms, b.close) for b in got] == want
        assert [a.id for a in store.read_alerts(T0, T0 + 10_000)] == ["id0001"]
    finally:
        store.close()
