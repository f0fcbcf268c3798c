"""InfluxStore against a real influxd: round trips, escaping, upserts, bad points, reads while down."""

from __future__ import annotations

import gzip
import math
import threading
import zlib

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.influx_server import InfluxServer, free_port
from virtuoso.domain.alerts import Alert, AlertKind, Severity
from virtuoso.domain.bars import Bar
from virtuoso.domain.clock import ManualClock
from virtuoso.storage import influx_schema as schema
from virtuoso.storage.influx import InfluxStore
from virtuoso.storage.influx_http import InfluxV1Client
from virtuoso.storage.spill import SpillBuffer

pytestmark = pytest.mark.influx

T0 = 1_700_000_040_000
NASTY_SYMBOLS = [
    "BTCUSDT", "a b", "a,b", "a=b", 'q"uote', "it's", "back\\slash", "trail\\", "\\,", "new\nline",
    "tab\there", "100%", "%25", "<b>x</b>", "émoji😀", " lead", "x=1,y=2 z", "'; DROP DATABASE x; --",
]


def make_store(server: InfluxServer, tmp_path, db: str | None = None, url: str | None = None, **kw) -> InfluxStore:
    db = db or server.create_database()
    stop = threading.Event()
    client = InfluxV1Client(url or server.url, db, timeout_s=5.0, stop=stop, attempts=kw.pop("attempts", 2),
                            backoff_max_s=0.2)
    kw.setdefault("flush_interval_s", 0.05)
    kw.setdefault("retry_max_s", 0.5)
    return InfluxStore(client, SpillBuffer(tmp_path / "virtuoso.db"), ManualClock(T0), stop=stop, **kw)


def bar(symbol: str, i: int, **kw) -> Bar:
    p = 100.0 + i
    base = dict(symbol=symbol, start_ms=T0 + i * 60_000, interval_s=60, open=p, high=p + 1.5, low=p - 0.25,
                close=p + 0.1, volume=10.0 + i, turnover=1000.0 * (i + 1), trade_count=3 + i, buy_volume=6.0,
                sell_volume=4.0, open_interest=5000.0 + i, funding_rate=0.0001, long_liq_volume=0.5,
                short_liq_volume=0.0, simulated=False)
    base.update(kw)
    return Bar(**base)


def same_bar(a: Bar, b: Bar) -> bool:
    for name in Bar._fields:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, float) and math.isnan(x):
            if not (isinstance(y, float) and math.isnan(y)):
                return False
        elif x != y:
            return False
    return True


def alert(symbol: str, i: int, severity: Severity = Severity.WATCH, **kw) -> Alert:
    base = dict(id=f"id{i:04d}", symbol=symbol, kind=AlertKind.OI_SURGE, severity=severity, score=55.5 + i,
                ts_event_ms=T0 + i * 1_000, evidence={"oi_change_pct": 3.25, "note": 'a "quoted", b=c\\d\n'},
                message="OI up 3.25% in 5 min", simulated=True)
    base.update(kw)
    return Alert(**base)


def test_bars_round_trip_exactly_including_open_interest_and_funding(influx_server, tmp_path):
    store = make_store(influx_server, tmp_path)
    try:
        bars = [bar("BTCUSDT", i) for i in range(30)] + [bar("ETHUSDT", i, close=1e-05, volume=1e16) for i in range(5)]
        store.write_bars(bars)
        assert store.flush(20)
        got = store.read_bars("BTCUSDT", T0, T0 + 30 * 60_000)
        assert len(got) == 30 and all(same_bar(a, b) for a, b in zip(got, bars[:30]))
        assert [b.start_ms for b in got] == sorted(b.start_ms for b in got)
        eth = store.read_bars("ETHUSDT", 0, 2**53)
        assert all(same_bar(a, b) for a, b in zip(eth, bars[30:])) and len(eth) == 5
        assert store.read_bars("BTCUSDT", T0 + 60_000, T0 + 3 * 60_000) == got[1:3]
        assert store.health()["state"] == "up" and store.health()["backlog"] == 0
    finally:
        store.close()


def test_nan_open_interest_and_funding_are_left_out_and_read_back_as_nan(influx_server, tmp_path):
    store = make_store(influx_server, tmp_path)
    try:
        store.write_bars([bar("BTCUSDT", 0, open_interest=float("nan"), funding_rate=float("nan")), bar("BTCUSDT", 1)])
        assert store.flush(20) and store.rejected == 0
        stored = influx_server.query('SELECT * FROM "bars_1m"', store.client.database)
        columns = stored["results"][0]["series"][0]["columns"]
        values = dict(zip(columns, stored["results"][0]["series"][0]["values"][0]))
        assert values["open_interest"] is None and values["funding_rate"] is None  # no field written
        first, second = store.read_bars("BTCUSDT", 0, 2**53)
        assert math.isnan(first.open_interest) and math.isnan(first.funding_rate) and first.close == 100.1
        assert second.open_interest == 5001.0
    finally:
        store.close()


def test_whole_number_floats_are_written_as_floats_so_field_types_never_conflict(influx_server, tmp_path):
    store = make_store(influx_server, tmp_path)
    try:
        store.write_bars([bar("BTCUSDT", 0, open=1.0, volume=0.0), bar("BTCUSDT", 1, open=1.5, volume=2.25)])
        assert store.flush(20)
        types = influx_server.query('SHOW FIELD KEYS FROM "bars_1m"', store.client.database)
        kinds = dict(types["results"][0]["series"][0]["values"])
        assert kinds["open"] == "float" and kinds["volume"] == "float" and kinds["trade_count"] == "integer"
        assert kinds["simulated"] == "boolean" and store.rejected == 0
    finally:
        store.close()


@pytest.mark.parametrize("symbol", NASTY_SYMBOLS)
def test_symbols_that_need_escaping_round_trip_through_the_server(influx_server, tmp_path, symbol):
    store = make_store(influx_server, tmp_path)
    try:
        store.write_bars([bar(symbol, 0), bar(symbol + "X", 0, close=1.0)])
        store.write_alerts([alert(symbol, 1)])
        assert store.flush(20) and store.rejected == 0 and store.invalid == 0
        (got,) = store.read_bars(symbol, 0, 2**53)
        assert got.symbol == symbol and same_bar(got, bar(symbol, 0))
        (a,) = store.read_alerts(0, 2**53, [symbol])
        assert a == alert(symbol, 1)
    finally:
        store.close()


def test_rewriting_a_bar_overwrites_it_instead_of_adding_a_second_point(influx_server, tmp_path):
    store = make_store(influx_server, tmp_path)
    try:
        store.write_bars([bar("BTCUSDT", 0, close=1.0)])
        assert store.flush(20)
        store.write_bars([bar("BTCUSDT", 0, close=2.0)])
        assert store.flush(20)
        count = influx_server.query('SELECT COUNT("close") FROM "bars_1m"', store.client.database)
        assert count["results"][0]["series"][0]["values"][0][1] == 1
        assert [b.close for b in store.read_bars("BTCUSDT", 0, 2**53)] == [2.0]
    finally:
        store.close()


def test_alerts_round_trip_with_evidence_and_a_higher_severity_republish_replaces(influx_server, tmp_path):
    store = make_store(influx_server, tmp_path)
    try:
        first = [alert("BTCUSDT", i) for i in range(5)] + [alert("ETHUSDT", 10, kind=AlertKind.PUMP_AND_DUMP)]
        store.write_alerts(first)
        assert store.flush(20)
        assert store.read_alerts(0, 2**53) == sorted(first, key=lambda a: (a.ts_event_ms, a.id))
        assert store.read_alerts(0, 2**53, ["ETHUSDT"]) == [first[-1]]
        assert store.read_alerts(0, 2**53, []) == []
        store.clock.advance_s(60)
        same_time = alert("BTCUSDT", 2, Severity.HIGH, score=90.0)
        later = alert("BTCUSDT", 3, Severity.CRITICAL, ts_event_ms=T0 + 3_000 + 30_000)
        store.write_alerts([same_time, later])
        assert store.flush(20)
        got = {a.id: a for a in store.read_alerts(0, 2**53, ["BTCUSDT"])}
        assert len(got) == 5 and got["id0002"] == same_time and got["id0003"] == later
    finally:
        store.close()


def test_a_point_the_server_refuses_is_quarantined_and_the_rest_keep_flowing(influx_server, tmp_path, caplog):
    store = make_store(influx_server, tmp_path)
    try:
        bad = bar("BTCUSDT", 0, start_ms=10**16)  # beyond InfluxDB's time range: HTTP 400 partial write
        store.write_bars([bar("BTCUSDT", 1), bad, bar("BTCUSDT", 2)])
        assert store.flush(20)
        store.write_bars([bar("BTCUSDT", 3)])
        assert store.flush(20)
        assert store.rejected == 1 and store.health()["backlog"] == 0 and store.health()["state"] == "up"
        assert [b.start_ms for b in store.read_bars("BTCUSDT", 0, 2**53)] == [bar("BTCUSDT", i).start_ms for i in (1, 2, 3)]
        ((_, status, error, lines),) = store.spill.quarantined()
        assert status == 400 and "10000000000000000" in error and len(lines.split("\n")) == 3
        assert any("refused" in r.getMessage() and "10000000000000000" in r.getMessage() for r in caplog.records)
    finally:
        store.close()


def test_writes_are_gzip_batches_of_line_protocol_with_ms_precision(tmp_path):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204 if request.url.path == "/write" else 200, json={"results": [{}]})

    client = InfluxV1Client("http://influx.invalid:8086", "db", token="s3cret", retention_policy="rp 1",
                            transport=httpx.MockTransport(handler))
    store = InfluxStore(client, SpillBuffer(tmp_path / "v.db"), ManualClock(T0), batch_size=10, flush_interval_s=5)
    try:
        store.write_bars([bar("BTCUSDT", i) for i in range(25)])
        assert store.flush(10)
    finally:
        store.close()
    writes = [r for r in seen if r.url.path == "/write"]
    assert [len(gzip.decompress(r.content).decode().split("\n")) for r in writes] == [10, 10, 5]
    w = writes[0]
    assert w.headers["Content-Encoding"] == "gzip" and w.headers["Authorization"] == "Token s3cret"
    assert dict(w.url.params) == {"db": "db", "precision": "ms", "rp": "rp 1"}
    assert gzip.decompress(w.content).decode().startswith("bars_1m,symbol=BTCUSDT open=100.0,high=101.5,")


def test_username_and_password_go_as_basic_auth(tmp_path):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    client = InfluxV1Client("http://influx.invalid:8086", "db", username="u", password="p w",
                            transport=httpx.MockTransport(handler))
    client.write_lines(["m v=1.0 1"])
    assert seen[-1].headers["Authorization"] == "Basic dTpwIHc="


def test_reads_while_influxdb_is_unreachable_return_pending_points_with_a_warning(influx_server, tmp_path, caplog):
    dead = f"http://127.0.0.1:{free_port()}"
    store = make_store(influx_server, tmp_path, db="nowhere", url=dead, attempts=1)
    try:
        store.write_bars([bar("BTCUSDT", i) for i in range(3)])
        store.write_alerts([alert("BTCUSDT", 1)])
        deadline_ok = store.flush(0.5)
        assert not deadline_ok
        assert len(store.read_bars("BTCUSDT", 0, 2**53)) == 3
        assert store.read_alerts(0, 2**53) == [alert("BTCUSDT", 1)]
        h = store.health()
        assert h["state"] == "down" and h["backlog"] == 4 and h["spilled"] == 4
        assert any("read failed" in r.getMessage() for r in caplog.records)
    finally:
        store.close(timeout_s=5)


def test_points_spilled_by_one_run_are_sent_by_the_next_when_the_server_is_back(influx_server, tmp_path):
    db = influx_server.create_database()
    dead = f"http://127.0.0.1:{free_port()}"
    down = make_store(influx_server, tmp_path, db=db, url=dead, attempts=1)
    down.write_bars([bar("BTCUSDT", i) for i in range(50)])
    down.close(timeout_s=5)
    assert SpillBuffer(tmp_path / "virtuoso.db").count() == 50
    up = make_store(influx_server, tmp_path, db=db)
    try:
        assert up.flush(20) and up.health()["spilled"] == 0
        count = influx_server.query('SELECT COUNT("close") FROM "bars_1m"', db)
        assert count["results"][0]["series"][0]["values"][0][1] == 50
    finally:
        up.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(symbol=st.text(min_size=1, max_size=12) | st.sampled_from(NASTY_SYMBOLS), close=st.floats(allow_nan=False, allow_infinity=False))
def test_any_symbol_and_float_round_trip_through_the_real_server(influx_server, symbol, close):
    client = InfluxV1Client(influx_server.url, "hypothesis_rt", timeout_s=5.0)
    try:
        start_ms = T0 + zlib.crc32(repr((symbol, close)).encode()) % 10**6 * 60_000
        b = bar(symbol, 0, start_ms=start_ms, close=close)
        client.write_lines([schema.bar_line(b)])
        rows = schema.records(client.query(schema.bars_query(symbol, start_ms, start_ms + 1)))
        assert len(rows) == 1 and same_bar(schema.bar_from_record(rows[0]), b)
    finally:
        client.close()


def test_writing_to_a_database_that_was_dropped_recreates_it_and_keeps_the_points(influx_server, tmp_path):
    store = make_store(influx_server, tmp_path)
    db = store.client.database
    try:
        store.write_bars([bar("BTCUSDT", 0)])
        assert store.flush(20)
        influx_server.query(f'DROP DATABASE "{db}"')
        store.write_bars([bar("BTCUSDT", 1)])
        assert store.flush(20) and store.rejected == 0
        assert [b.start_ms for b in store.read_bars("BTCUSDT", 0, 2**53)] == [bar("BTCUSDT", 1).start_ms]
    finally:
        store.close()
