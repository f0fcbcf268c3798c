"""InfluxStore's buffer and spill with a scripted HTTP transport (no influxd needed): writes never
wait on a slow or failing server, overflow spills to SQLite, and everything leaves in order."""

from __future__ import annotations

import gzip
import threading
import time

import httpx

from tests.integration.test_influx_store import T0, bar
from virtuoso.domain.clock import ManualClock
from virtuoso.storage.influx import InfluxStore
from virtuoso.storage.influx_http import InfluxV1Client
from virtuoso.storage.line_protocol import parse_line
from virtuoso.storage.spill import SpillBuffer


class ScriptedInflux:
    """An httpx transport handler: records written lines; ``gate`` blocks writes, ``fail`` makes them 503."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.gate.set()
        self.fail = False
        self.lines: list[str] = []
        self.requests = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != "/write":
            return httpx.Response(200, json={"results": [{"statement_id": 0}]})
        self.requests += 1
        self.gate.wait(30)
        if self.fail:
            return httpx.Response(503, json={"error": "overloaded"}, headers={"Retry-After": "0"})
        self.lines.extend(gzip.decompress(request.content).decode().split("\n"))
        return httpx.Response(204)


def make(tmp_path, server: ScriptedInflux, **kw) -> InfluxStore:
    stop = threading.Event()
    client = InfluxV1Client("http://influx.invalid", "db", transport=httpx.MockTransport(server), attempts=2,
                            backoff_max_s=0.05, stop=stop)
    kw.setdefault("flush_interval_s", 0.02)
    return InfluxStore(client, SpillBuffer(tmp_path / "virtuoso.db"), ManualClock(T0), retry_max_s=0.1, stop=stop, **kw)


def sent_starts(server: ScriptedInflux) -> list[int]:
    return [parse_line(line)[3] for line in server.lines]


def test_a_stalled_server_never_blocks_writes_and_overflow_spills_then_flushes_in_order(tmp_path):
    server = ScriptedInflux()
    server.gate.clear()  # the server hangs
    store = make(tmp_path, server, batch_size=100, buffer_max_points=1_000)
    try:
        t = time.perf_counter()
        for i in range(0, 5_000, 50):
            store.write_bars([bar("BTCUSDT", j) for j in range(i, i + 50)])
        assert time.perf_counter() - t < 5.0  # not waiting on the server (each request would hang 30 s)
        h = store.health()
        assert h["spilled"] > 0 and h["backlog"] == 5_000 - len(server.lines)
        server.gate.set()
        assert store.flush(30)
        assert sent_starts(server) == [bar("BTCUSDT", j).start_ms for j in range(5_000)]
        assert store.health()["spilled"] == 0
    finally:
        store.close()


def test_a_failing_server_is_retried_then_spilled_and_nothing_is_lost_when_it_recovers(tmp_path):
    server = ScriptedInflux()
    server.fail = True
    store = make(tmp_path, server, batch_size=10)
    try:
        store.write_bars([bar("BTCUSDT", j) for j in range(25)])
        deadline = time.monotonic() + 10
        while store.health()["state"] != "down" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert store.health()["state"] == "down" and store.health()["spilled"] == 25
        store.write_bars([bar("BTCUSDT", 3, close=-1.0)])  # a newer version while down: must win
        assert server.requests >= 2  # the first batch was retried before spilling
        server.fail = False
        assert store.flush(30)
        starts = sent_starts(server)
        assert starts == [bar("BTCUSDT", j).start_ms for j in range(25)] + [bar("BTCUSDT", 3).start_ms]
        assert store.health()["state"] == "up" and store.health()["written"] == 26
    finally:
        store.close()


def test_closing_while_the_server_is_down_keeps_the_points_in_the_spill(tmp_path):
    server = ScriptedInflux()
    server.fail = True
    store = make(tmp_path, server, batch_size=10)
    store.write_bars([bar("BTCUSDT", j) for j in range(7)])
    store.close(timeout_s=10)
    spill = SpillBuffer(tmp_path / "virtuoso.db")
    try:
        assert [p.time_ms for p in spill.head(100)] == [bar("BTCUSDT", j).start_ms for j in range(7)]
    finally:
        spill.close()


def test_health_shows_state_and_backlog_but_never_credentials_from_the_url(tmp_path):
    client = InfluxV1Client("http://me:s3cret@influx.invalid:8086", "db",
                            transport=httpx.MockTransport(ScriptedInflux()))
    store = InfluxStore(client, SpillBuffer(tmp_path / "virtuoso.db"), ManualClock(T0))
    try:
        h = store.health()
        assert {"state", "backlog", "spilled", "written", "errors", "last_error"} <= set(h)
        assert "s3cret" not in repr(h) and h["url"] == "http://influx.invalid:8086"
    finally:
        store.close()
