"""VIRTUOSO_SYMBOLS=all against the local Bybit server: 500 instruments over several pages, Bybit's
subscribe limits enforced, listings followed and delistings dropped, bad names refused at start."""

from __future__ import annotations

import threading
import time
from typing import Any, Iterator

import pytest

from tests.bybit_server import BybitServer, fast_env, universe_names
from virtuoso.app.engine import Engine
from virtuoso.app.build import bybit_rest_factory
from virtuoso.config import SettingsError, load_settings
from virtuoso.domain.clock import SystemClock
from virtuoso.ingest.bybit.source import BybitSource
from virtuoso.ingest.bybit.topics import topic_kind, topic_symbol

N = 500
# Not followed by ``all``: a USDC perpetual, a coin before launch, a dated future.
EXTRA = (
    {"symbol": "BTCPERP", "contractType": "LinearPerpetual", "status": "Trading", "quoteCoin": "USDC", "settleCoin": "USDC"},
    {"symbol": "SOONUSDT", "contractType": "LinearPerpetual", "status": "PreLaunch", "quoteCoin": "USDT", "settleCoin": "USDT"},
    {"symbol": "BTCUSDT-27MAR26", "contractType": "LinearFutures", "status": "Trading", "quoteCoin": "USDT", "settleCoin": "USDT"},
)
PER_CONNECTION = 200


def until(pred: Any, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return bool(pred())


@pytest.fixture
def market() -> Iterator[BybitServer]:
    # Stricter than Bybit on topics per connection (Bybit's limit is 21,000 characters of args),
    # and pages of 150 instruments, so 500 take four pages.
    with BybitServer(universe_names(N), interval_s=0.5, instruments_page_max=150,
                     max_topics_per_connection=PER_CONNECTION, extra_instruments=EXTRA) as srv:
        yield srv


class Collector:
    """A BybitSource for ``all`` in a thread; records the symbols each data frame was for."""

    def __init__(self, server: BybitServer, **env: str) -> None:
        env = {"VIRTUOSO_SYMBOLS": "all", "VIRTUOSO_BYBIT__BACKFILL_MINUTES": "0", "VIRTUOSO_BYBIT__STALE_AFTER_S": "5",
               "VIRTUOSO_BYBIT__UNIVERSE_REFRESH_S": "1", "VIRTUOSO_BYBIT__ORDERBOOK_TOP_N": "5",
               "VIRTUOSO_BYBIT__TOPICS_PER_CONNECTION": str(PER_CONNECTION), **env}
        self.settings = load_settings(fast_env(server, **env), env_file=None)
        self.changes: list[tuple[list[str], list[str]]] = []
        self.seen: dict[str, set[str]] = {}  # kind -> symbols with a data frame
        self.source = BybitSource(self.settings, SystemClock(), make_rest=bybit_rest_factory(self.settings), on_universe=lambda a, r: self.changes.append((list(a), list(r))))
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.source.run, args=(self._emit, self.stop), daemon=True)

    def _emit(self, msg: Any, ts_recv_ns: int) -> None:
        topic = msg.envelope.topic
        if isinstance(topic, str):
            self.seen.setdefault(topic_kind(topic), set()).add(topic_symbol(topic))

    def __enter__(self) -> "Collector":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(20)
        assert not self.thread.is_alive()


def test_all_follows_every_usdt_perpetual_within_bybit_limits_and_data_flows_for_all(market):
    with Collector(market) as run:
        assert until(lambda: len(run.source.symbols()) == N, 20)
        followed = set(run.source.symbols())
        assert followed == set(universe_names(N))  # USDC, pre-launch and dated contracts left out
        assert market.rest_calls["/v5/market/instruments-info"] >= 4  # 500 + 3 extra in pages of 150
        want = {f"{k}.{s}" for s in followed for k in ("tickers", "publicTrade", "allLiquidation")}
        assert until(lambda: want <= market.subscribed_topics(), 60)
        books = {t for t in market.subscribed_topics() if t.startswith("orderbook.")}
        assert len(books) == 5  # order books only for the focus list
        assert market.limit_rejections == 0 and 0 < market.max_args_seen <= 10
        assert max(market.topics_per_connection()) <= PER_CONNECTION
        assert market.open_connections == -(-(3 * N + 5) // PER_CONNECTION)  # 8 supervised connections
        assert until(lambda: run.seen.get("tickers", set()) >= followed and run.seen.get("publicTrade", set()) >= followed, 60)
        h = run.source.health()
        assert h["connected"] and h["connections_open"] == market.open_connections and h["topics_rejected"] == {}
        assert len(h["connections"]) == market.open_connections and all(c["connected"] for c in h["connections"])
        assert until(lambda: run.source.live_symbols(SystemClock().now_ms(), 10_000) == N, 20)


def test_a_new_listing_is_followed_after_the_next_refresh_and_a_delisted_one_dropped(market):
    with Collector(market) as run:
        assert until(lambda: len(market.subscribed_topics()) >= 3 * N, 60)
        market.list_instrument("NEWCOINUSDT")
        gone = universe_names(N)[7]
        market.delist_instrument(gone)
        assert until(lambda: any("NEWCOINUSDT" in a for a, _ in run.changes) and any(gone in r for _, r in run.changes), 20)
        assert until(lambda: "tickers.NEWCOINUSDT" in market.subscribed_topics(), 10)
        assert until(lambda: "NEWCOINUSDT" in run.seen.get("tickers", set()), 10)  # its data flows
        assert until(lambda: not any(topic_symbol(t) == gone for t in market.subscribed_topics()), 10)
        assert "NEWCOINUSDT" in run.source.symbols() and gone not in run.source.symbols()
        assert market.limit_rejections == 0
        changes = run.source.universe()["changes"]
        assert {"symbol": "NEWCOINUSDT", "change": "listed"} in [{k: c[k] for k in ("symbol", "change")} for c in changes]


def test_a_symbol_bybit_does_not_list_is_a_clear_start_up_error(market):
    settings = load_settings(fast_env(market, VIRTUOSO_SYMBOLS="BTCUSDT,NOPEUSDT,SOONUSDT"), env_file=None)
    with pytest.raises(SettingsError) as err:
        BybitSource(settings, SystemClock(), make_rest=bybit_rest_factory(settings)).resolve_symbols()
    msg = str(err.value)
    assert "NOPEUSDT" in msg and "not a Bybit linear contract" in msg and "SOONUSDT (PreLaunch)" in msg
    assert "BTCUSDT" not in msg.split("(checked")[0]
    engine = Engine(load_settings(fast_env(market, VIRTUOSO_SYMBOLS="BTCUSDT,NOPEUSDT", VIRTUOSO_DATA_DIR="/tmp/virtuoso-nope"),
                                  env_file=None))
    with pytest.raises(SettingsError, match="NOPEUSDT"):
        engine.start()


def test_the_server_enforces_bybit_subscribe_limits(market):
    """The server itself: >10 args in one request, or too many topics on one connection, are refused."""
    from websockets.sync.client import connect
    import json

    names = universe_names(N)
    with connect(market.ws_url) as ws:
        ws.send(json.dumps({"op": "subscribe", "req_id": "a", "args": [f"tickers.{s}" for s in names[:11]]}))
        ack = json.loads(ws.recv(timeout=5))
        assert ack["success"] is False and "args size" in ack["ret_msg"]
        for i in range(0, PER_CONNECTION, 10):
            ws.send(json.dumps({"op": "subscribe", "req_id": f"b{i}", "args": [f"tickers.{s}" for s in names[i:i + 10]]}))
        ws.send(json.dumps({"op": "subscribe", "req_id": "c", "args": [f"tickers.{names[PER_CONNECTION]}"]}))
        acks = {}
        while "c" not in acks:
            m = json.loads(ws.recv(timeout=5))
            if m.get("op") == "subscribe":
                acks[m["req_id"]] = m
        assert all(acks[f"b{i}"]["success"] for i in range(0, PER_CONNECTION, 10))
        assert acks["c"]["success"] is False and "too many topics" in acks["c"]["ret_msg"]
    assert market.limit_rejections == 2


def test_the_engine_follows_all_with_a_universe_health_section_and_listings(tmp_path):
    names = universe_names(60)
    with BybitServer(names, interval_s=0.2, instruments_page_max=25, max_topics_per_connection=50) as srv:
        env = fast_env(srv, VIRTUOSO_SYMBOLS="all", VIRTUOSO_DATA_DIR=str(tmp_path), VIRTUOSO_SOURCE="bybit",
                       VIRTUOSO_BYBIT__UNIVERSE_REFRESH_S="1", VIRTUOSO_BYBIT__TOPICS_PER_CONNECTION="50",
                       VIRTUOSO_BYBIT__BACKFILL_MINUTES="5", VIRTUOSO_BYBIT__STALE_AFTER_S="5")
        engine = Engine(load_settings(env, env_file=None)).start()
        try:
            assert len(engine.symbols()) == 60 and set(engine.detection.symbols) == set(names)
            assert until(lambda: engine.health()["universe"]["live"] == 60, 30)
            u = engine.health()["universe"]
            assert u["symbols"] == 60 and u["mode"] == "all" and u["connections"] >= 4  # 200 topics, 50 a connection
            assert len(u["connection_states"]) == u["connections"] and all(c["connected"] for c in u["connection_states"])
            srv.list_instrument("FRESHUSDT")
            srv.delist_instrument(names[3])
            assert until(lambda: "FRESHUSDT" in engine.detection.symbols and names[3] not in engine.detection.symbols, 20)
            assert "FRESHUSDT" in engine.symbols() and names[3] not in engine.symbols()
            assert until(lambda: engine.state.bars_1m("FRESHUSDT"), 20)  # backfilled on listing
            assert until(lambda: engine.health()["universe"]["live"] == 60, 20)
            assert engine.health()["pipeline"]["queue_dropped"] == 0
        finally:
            engine.stop()
