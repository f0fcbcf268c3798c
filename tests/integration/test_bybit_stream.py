"""The live source with the real pybit client against the local Bybit v5 protocol server."""

from __future__ import annotations

import threading
import time
from typing import Any, Iterator

import orjson
import pytest

from tests.bybit_server import BybitServer, fast_env
from virtuoso.config import load_settings
from virtuoso.domain.clock import SystemClock
from virtuoso.ingest.bybit.frames import Frame
from virtuoso.app.build import build_bybit
from virtuoso.ingest.bybit.source import probe
from virtuoso.ingest.bybit.ws import LinearPublicStream


@pytest.fixture
def server() -> Iterator[BybitServer]:
    with BybitServer(("BTCUSDT", "ETHUSDT"), interval_s=0.05) as srv:
        yield srv


class Running:
    """A BybitSource running in a thread, collecting what it emits and the history it backfills."""

    def __init__(self, server: BybitServer, emit_error_every: int = 0, **env: str) -> None:
        self.settings = load_settings(fast_env(server, **env), env_file=None)
        self.messages: list[dict[str, Any]] = []
        self.history: list[list[Any]] = []
        self.source = build_bybit(self.settings, SystemClock(), on_history=self.history.append)
        self.stop = threading.Event()
        self._every = emit_error_every
        self.thread = threading.Thread(target=self.source.run, args=(self._emit, self.stop), name="virtuoso-ingest", daemon=True)

    def _emit(self, msg: Any, ts_recv_ns: int) -> None:
        assert type(msg) is Frame  # the parser's fast path takes it as it is
        self.messages.append(orjson.loads(msg.raw))
        if self._every and len(self.messages) % self._every == 0:
            raise RuntimeError("a broken consumer")

    def data(self) -> list[dict[str, Any]]:
        return [m for m in list(self.messages) if "topic" in m]

    def health(self) -> dict[str, Any]:
        return self.source.health()

    def __enter__(self) -> "Running":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)
        assert not self.thread.is_alive()


def until(pred, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return bool(pred())


def test_raw_bybit_messages_flow_for_every_subscribed_topic(server):
    with Running(server) as run:
        want = {"tickers.BTCUSDT", "publicTrade.ETHUSDT", "orderbook.50.BTCUSDT", "allLiquidation.ETHUSDT"}
        assert until(lambda: want <= {m["topic"] for m in run.data()})
        h = run.health()
        assert h["connected"] and h["topics_acked"] == 8 and h["messages_per_s"] >= 0
        assert set(h["last_message_age_s"]) >= want
        first_ticker = next(m for m in run.data() if m["topic"] == "tickers.BTCUSDT")
        assert first_ticker["type"] == "snapshot" and "openInterest" in first_ticker["data"]
        # raw deltas reach the consumer, not pybit's merged snapshot
        assert until(lambda: any(m["topic"] == "tickers.BTCUSDT" and m["type"] == "delta" for m in run.data()))
        assert any(m["topic"].startswith("orderbook") and m["type"] == "delta" for m in run.data())


def test_a_server_drop_reconnects_within_5_s_resubscribes_records_the_gap_and_backfills_it(server):
    with Running(server) as run:
        assert until(lambda: run.health()["backfill"]["state"] == "done" and len(run.data()) > 20)
        subs, calls = server.subscribe_requests, sum(server.rest_calls.values())
        assert server.drop_all() == 1
        dropped_at = time.monotonic()
        n = len(run.data())
        assert until(lambda: len(run.data()) > n + 10 and run.health()["reconnects"] == 1, 5)
        assert time.monotonic() - dropped_at < 5
        assert server.subscribe_requests == subs + 1  # 8 topics: one request of <= 10 args
        assert until(lambda: run.health()["gaps"][0]["end_ms"] is not None, 2)
        gap = run.health()["gaps"][0]
        assert gap["end_ms"] >= gap["start_ms"] and "WebSocketConnectionClosedException" in gap["cause"]
        assert until(lambda: run.health()["backfill"]["runs"] == 2 and run.health()["backfill"]["state"] == "done")
        assert sum(server.rest_calls.values()) >= calls + 4  # klines + OI for two symbols
        assert len(run.history) >= 4


def test_a_clean_close_frame_from_the_server_also_reconnects(server):
    with Running(server) as run:
        assert until(lambda: len(run.data()) > 10)
        server.drop_all(clean=True)
        assert until(lambda: run.health()["reconnects"] == 1 and run.health()["connected"], 5)


def test_a_stale_stream_is_closed_and_reconnected(server):
    with Running(server) as run:
        assert until(lambda: len(run.data()) > 10)
        server.set_stale(True)
        assert until(lambda: run.health()["reconnects"] >= 1, 5)
        server.set_stale(False)
        n = len(run.data())
        assert until(lambda: len(run.data()) > n + 10, 5)
        assert until(lambda: any(g["cause"].startswith("stale") and g["end_ms"] for g in run.health()["gaps"]), 5)


def test_garbage_frames_are_counted_and_skipped_and_the_stream_goes_on(server):
    with Running(server) as run:
        assert until(lambda: len(run.data()) > 10)
        server.send_malformed(3, "garbage")
        server.send_malformed(2, "array")
        server.send_malformed(1, "bad_data")  # valid JSON: passed on, the parser counts it
        assert until(lambda: run.health()["malformed_frames"] == 5)
        n = len(run.data())
        assert until(lambda: len(run.data()) > n + 10)
        assert any(m.get("data") == "oops" for m in run.data())
        assert run.health()["reconnects"] == 0


def test_a_text_frame_that_is_not_utf8_is_refused_the_connection_dropped_and_the_stream_resumes(server):
    """websocket-client's Python UTF-8 check is off (ws.py); the C decode still refuses the frame."""
    with Running(server) as run:
        assert until(lambda: len(run.data()) > 10)
        stream = run.source._links[0][0]._stream
        assert stream is not None and stream.ws.sock.cont_frame.skip_utf8_validation is True
        server.send_malformed(1, "not_utf8")
        assert until(lambda: run.health()["reconnects"] == 1 and run.health()["connected"])
        n = len(run.data())
        assert until(lambda: len(run.data()) > n + 10)
        assert not any(m.get("data") == {"s": "\ufffd\ufffd"} or "\xff" in str(m) for m in run.data())


def test_a_consumer_that_raises_does_not_stop_the_stream(server):
    with Running(server, emit_error_every=3) as run:
        assert until(lambda: len(run.messages) > 60)
        h = run.health()
        assert h["emit_errors"] >= 15 and h["reconnects"] == 0 and h["connected"]


def test_refused_connections_back_off_and_recover_when_the_server_accepts_again(server):
    with Running(server) as run:
        assert until(lambda: len(run.data()) > 10)
        server.refuse_for(3.0)
        before = server.ws_attempts
        server.drop_all()
        assert until(lambda: server.ws_refused > 0, 3)
        assert until(lambda: run.health()["reconnects"] == 1 and run.health()["connected"], 8)
        # backoff 0.1 s doubling to 0.5 s with jitter: about 8 cycles in 3 s, each at most 2 attempts
        assert server.ws_attempts - before <= 24
        assert run.health()["connect_attempts"] >= 3


def test_the_ws_url_override_also_holds_for_pybits_own_reconnect_step(server):
    class Sink:
        frames: list[Any] = []

        def on_frame(self, raw):
            self.frames.append(raw)

        def on_open(self):
            pass

        def on_down(self, cause):
            pass

    stream = LinearPublicStream(server.ws_url, ["tickers.BTCUSDT"], Sink())
    try:
        stream.connect()
        assert until(lambda: len(Sink.frames) >= 2)
        # exactly what pybit's _on_error does when restart_on_error is on
        stream.exit()
        stream._reset()
        stream._connect(stream.endpoint)
        assert stream.is_connected() and server.ws_connections_total == 2
        assert stream.endpoint == server.ws_url
    finally:
        stream.close()


def test_probe_finds_the_local_server_and_names_a_closed_port_quickly(server, tmp_path):
    s = load_settings(fast_env(server), env_file=None)
    assert probe(s, 2.0) is None
    closed = load_settings({"VIRTUOSO_BYBIT__WS_URL": "ws://127.0.0.1:9/v5/public/linear"}, env_file=None)
    started = time.monotonic()
    reason = probe(closed, 2.0)
    assert reason is not None and "refused" in reason and time.monotonic() - started < 2.0


def test_probe_reports_a_server_that_never_answers_as_a_timeout(server):
    server.set_stale(True)
    reason = probe(load_settings(fast_env(server), env_file=None), 0.5)
    assert reason is not None and "timed out" in reason


@pytest.mark.slow
def test_sixty_seconds_of_refused_connections_back_off_to_the_cap_then_recover_and_backfill_the_gap(server):
    env = {"VIRTUOSO_BYBIT__BACKOFF_INITIAL_S": "0.5", "VIRTUOSO_BYBIT__BACKOFF_MAX_S": "8"}
    with Running(server, **env) as run:
        assert until(lambda: run.health()["backfill"]["state"] == "done" and len(run.data()) > 10)
        before = server.ws_attempts
        server.refuse_for(60.0)
        server.drop_all()
        delays = []
        deadline = time.monotonic() + 60.0
        while time.monotonic() < deadline:
            delays.append(run.health()["next_backoff_s"])
            time.sleep(0.5)
        attempts = server.ws_attempts - before
        # ~12 backoff cycles in 60 s (0.5, 1, 2, 4, then 8 s at most, jittered), each at most 2 attempts
        assert 5 <= attempts <= 40, attempts
        assert max(delays) >= 4.0 and delays[2] < 2.0
        returned = time.monotonic()
        assert until(lambda: run.health()["connected"] and run.health()["reconnects"] == 1, 12)
        assert time.monotonic() - returned <= 10
        assert until(lambda: run.health()["backfill"]["runs"] == 2 and run.health()["backfill"]["state"] == "done", 10)
        gap = run.health()["gaps"][0]
        assert gap["end_ms"] - gap["start_ms"] >= 59_000
        window = run.health()["backfill"]["last_window_ms"]
        assert window[0] <= gap["start_ms"] and window[1] >= gap["end_ms"]
