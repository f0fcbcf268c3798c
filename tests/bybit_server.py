"""A local Bybit v5 protocol server for tests: a real WebSocket and HTTP server on 127.0.0.1.

Not a mock of pybit: clients connect over TCP and speak Bybit v5 as documented.

WebSocket ``/v5/public/linear`` (https://bybit-exchange.github.io/docs/v5/ws/connect):
``{"op":"subscribe","req_id":..,"args":[..]}`` is acknowledged with
``{"success":true,"ret_msg":"","conn_id":..,"req_id":..,"op":"subscribe"}``; ``{"op":"ping"}`` gets
``{"success":true,"ret_msg":"pong","conn_id":..,"req_id":..,"op":"ping"}``. Subscribed topics
stream in the documented formats: ``tickers.{S}`` (snapshot, then deltas carrying only the fields
that changed), ``publicTrade.{S}``, ``allLiquidation.{S}``, ``orderbook.50.{S}`` (snapshot, then
deltas; a fresh snapshot every ``book_snapshot_every`` ticks, as Bybit sends after a reset).

``{"op":"unsubscribe",..}`` drops topics. Bybit's public limits are enforced
(https://bybit-exchange.github.io/docs/v5/ws/connect): a request with more than
``max_args_per_request`` (10) args, or one that would take a connection past
``max_args_chars`` (21,000 characters of args) or ``max_topics_per_connection``, is refused with
``success: false``; refusals are counted in ``limit_rejections``.

REST with Bybit's ``retCode/retMsg/result/retExtInfo/time`` envelope: ``/v5/market/time``,
``/v5/market/kline`` (newest first, ``start``/``end``/``limit``), ``/v5/market/open-interest``
(``intervalTime``, ``nextPageCursor`` paging), ``/v5/market/instruments-info`` (every symbol as a
``LinearPerpetual`` USDT contract, plus ``extra_instruments``; pages of at most
``instruments_page_max`` items linked by ``nextPageCursor``) and ``/v5/market/tickers``.
:meth:`list_instrument` and :meth:`delist_instrument` change the listing while it runs.
Prices are a deterministic function of time.

``frames_per_s`` paces the stream: data frames leave at that rate over all connections, so a
load test states its load instead of getting whatever this process can send on the machine.

Fault switches: :meth:`drop_all`, :meth:`set_stale`, :meth:`refuse_for` (upgrade requests get
HTTP 503 and are counted), :meth:`send_malformed`, :meth:`fail_rest` (retCode or HTTP status for
the next N calls). Run by hand: ``python -m tests.bybit_server --port 8899``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import random
import re
import socket
import threading
import time
import uuid
from collections import Counter
from typing import Any

from aiohttp import WSMsgType, web

_TOPIC_RE = re.compile(r"^(tickers|publicTrade|allLiquidation|orderbook\.(?:1|50|200|500)|kline\.1)\.([A-Z0-9]{2,30})$")
MINUTE_MS = 60_000
OI_STEP_MS = 300_000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def kline_price(symbol: str, t_ms: int, base: float = 100.0) -> float:
    """Deterministic close-to-close path used by the kline endpoint (tests recompute it)."""
    phase = sum(map(ord, symbol)) % 17
    return round(base * (1 + 0.01 * math.sin(t_ms / 3_600_000 + phase)), 4)


def kline_row(symbol: str, t_ms: int) -> list[str]:
    o, c = kline_price(symbol, t_ms), kline_price(symbol, t_ms + MINUTE_MS)
    vol = 10 + (t_ms // MINUTE_MS) % 7
    return [str(t_ms), str(o), str(round(max(o, c) * 1.001, 4)), str(round(min(o, c) * 0.999, 4)), str(c), str(vol), str(round(vol * c, 4))]


def oi_value(symbol: str, t_ms: int) -> float:
    return 50_000.0 + (t_ms // OI_STEP_MS) % 100 * 10


class _Market:
    def __init__(self, symbol: str, price: float, rng: random.Random) -> None:
        self.symbol, self.price, self.rng = symbol, price, rng
        self.oi, self.funding, self.vol24, self.turn24 = 50_000.0, 0.0001, 1_000.0, price * 1_000.0

    def step(self) -> None:
        self.price = round(self.price * (1 + self.rng.gauss(0, 0.0004)), 2)
        self.oi = round(max(1.0, self.oi + self.rng.gauss(0, 5)), 3)

    def ticker(self) -> dict[str, str]:
        p = self.price
        return {
            "symbol": self.symbol, "tickDirection": "PlusTick", "price24hPcnt": "0.0123", "lastPrice": f"{p:.2f}",
            "prevPrice24h": f"{p * 0.99:.2f}", "highPrice24h": f"{p * 1.02:.2f}", "lowPrice24h": f"{p * 0.98:.2f}",
            "prevPrice1h": f"{p:.2f}", "markPrice": f"{p:.2f}", "indexPrice": f"{p:.2f}",
            "openInterest": f"{self.oi:.3f}", "openInterestValue": f"{self.oi * p:.2f}",
            "turnover24h": f"{self.turn24:.4f}", "volume24h": f"{self.vol24:.3f}",
            "nextFundingTime": str((now_ms() // 28_800_000 + 1) * 28_800_000), "fundingRate": f"{self.funding:.6f}",
            "bid1Price": f"{p - 0.1:.2f}", "bid1Size": "1.5", "ask1Price": f"{p + 0.1:.2f}", "ask1Size": "2.5",
        }


class _Conn:
    def __init__(self, ws: web.WebSocketResponse, transport: Any, seed: int) -> None:
        self.ws, self.transport = ws, transport
        self.conn_id = str(uuid.uuid4())
        self.topics: set[str] = set()
        self.sent_ticker: dict[str, dict[str, str]] = {}
        self.book_u: dict[str, int] = {}
        self.rng = random.Random(seed)
        self.ticks = 0


class BybitServer:
    """Start with :meth:`start` (binds a free port), stop with :meth:`stop`; see module docstring."""

    def __init__(
        self,
        symbols: tuple[str, ...] = ("BTCUSDT",),
        *,
        interval_s: float = 0.05,
        auto_stream: bool = True,
        seed: int = 7,
        book_snapshot_every: int = 40,
        port: int = 0,
        instruments_page_max: int = 1000,
        max_args_per_request: int = 10,
        max_args_chars: int = 21_000,
        max_topics_per_connection: int | None = None,
        extra_instruments: tuple[dict[str, str], ...] = (),
        frames_per_s: float | None = None,
    ) -> None:
        self.symbols = tuple(symbols)
        self.instruments_page_max = instruments_page_max
        self.max_args_per_request = max_args_per_request
        self.max_args_chars = max_args_chars
        self.max_topics_per_connection = max_topics_per_connection
        self.extra_instruments = list(extra_instruments)
        self.limit_rejections = 0
        self.max_args_seen = 0
        self.interval_s = interval_s
        # Paced streaming: data frames go out at this rate over all connections (ticks stretch
        # when a tick holds more frames than the rate allows); None sends what the loop can.
        self.frames_per_s = frames_per_s
        self._paced = 0
        self._pace_t0: float | None = None
        self.auto_stream = auto_stream
        self.book_snapshot_every = book_snapshot_every
        self._rng = random.Random(seed)
        self._markets = {s: _Market(s, 60_000.0 if s.startswith("BTC") else 100.0, random.Random(seed + i)) for i, s in enumerate(symbols)}
        self._port_wanted = port
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._conns: set[_Conn] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        # fault switches
        self.stale = False
        self._refuse_until = 0.0
        self._malformed: list[str | bytes] = []
        self._rest_failures: list[tuple[int | None, int | None]] = []
        # observations
        self.ws_attempts = 0
        self.ws_refused = 0
        self.ws_connections_total = 0
        self.subscribe_requests = 0
        self.pings = 0
        self.frames_sent = 0
        self.rest_calls: Counter[str] = Counter()
        self.rest_log: list[tuple[str, dict[str, str]]] = []

    # ------------------------------------------------------------------ lifecycle

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v5/public/linear"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "BybitServer":
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        failure: list[BaseException] = []

        def main() -> None:
            loop = self._loop
            assert loop is not None
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._start())
            except BaseException as exc:  # report to start(), never as an unhandled thread error
                failure.append(exc)
            ready.set()
            try:
                if not failure:
                    loop.run_forever()
                loop.run_until_complete(self._shutdown())
            finally:
                loop.close()

        self._thread = threading.Thread(target=main, name="bybit-test-server", daemon=True)
        self._thread.start()
        if not ready.wait(10) or failure:
            self._thread.join(5)
            raise RuntimeError(f"test server did not start: {failure[:1]}")
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = None

    def __enter__(self) -> "BybitServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/v5/public/linear", self._ws_handler)
        app.router.add_get("/v5/market/time", self._time)
        app.router.add_get("/v5/market/kline", self._kline)
        app.router.add_get("/v5/market/open-interest", self._open_interest)
        app.router.add_get("/v5/market/instruments-info", self._instruments)
        app.router.add_get("/v5/market/tickers", self._tickers)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._port_wanted))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        self._tasks.add(asyncio.get_running_loop().create_task(self._ticker_loop()))

    async def _shutdown(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for c in list(self._conns):
            c.transport.abort()
        if self._runner is not None:
            await self._runner.cleanup()

    def _call(self, coro: Any, timeout_s: float = 5.0) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout_s)

    # ------------------------------------------------------------------ fault switches

    def drop_all(self, *, clean: bool = False) -> int:
        """Drop every WebSocket: abort the TCP connection, or send a close frame if ``clean``."""

        async def go() -> int:
            conns = list(self._conns)
            for c in conns:
                if clean:
                    await c.ws.close(code=1001, message=b"server going away")
                else:
                    c.transport.abort()
            return len(conns)

        return int(self._call(go()))

    def set_stale(self, on: bool) -> None:
        """Keep connections open but send nothing (no data, no pongs)."""
        self.stale = on

    def refuse_for(self, seconds: float) -> None:
        """Answer WebSocket upgrades with HTTP 503 for ``seconds`` (attempts are still counted)."""
        self._refuse_until = time.monotonic() + seconds

    def send_malformed(self, n: int, kind: str = "garbage") -> None:
        """Send ``n`` bad frames to every connection: garbage (not JSON), array, bad_data, or
        not_utf8 (a text frame whose bytes are not UTF-8, which the WebSocket protocol forbids)."""
        frame = {
            "garbage": "{not json at all",
            "array": "[1, 2, 3]",
            "bad_data": json.dumps({"topic": f"tickers.{self.symbols[0]}", "type": "delta", "ts": now_ms(), "data": "oops"}),
            "not_utf8": b'{"topic":"tickers.' + self.symbols[0].encode() + b'","type":"delta","data":{"s":"\xff\xfe"}}',
        }[kind]
        self._malformed += [frame] * n

    def fail_rest(self, n: int, *, ret_code: int | None = 10006, http_status: int | None = None) -> None:
        """Fail the next ``n`` REST calls with ``retCode`` (HTTP 200 envelope) or an HTTP status."""
        self._rest_failures += [(ret_code, http_status)] * n

    def push(self, msg: dict[str, Any]) -> None:
        """Send ``msg`` as-is to every connection subscribed to its topic (all, if it has none)."""

        async def go() -> None:
            text = json.dumps(msg)
            topic = msg.get("topic")
            for c in list(self._conns):
                if topic is None or topic in c.topics:
                    await self._send(c, text)

        self._call(go())

    def list_instrument(self, symbol: str) -> None:
        """A new listing: in instruments-info from now on, and streamed to whoever subscribes."""
        if symbol not in self._markets:
            self._markets[symbol] = _Market(symbol, 100.0, random.Random(len(self._markets)))
            self.symbols = (*self.symbols, symbol)

    def delist_instrument(self, symbol: str) -> None:
        """A delisting: gone from instruments-info, and its topics fall silent."""
        self._markets.pop(symbol, None)
        self.symbols = tuple(s for s in self.symbols if s != symbol)

    def topics_per_connection(self) -> list[int]:
        return [len(c.topics) for c in list(self._conns)]

    @property
    def open_connections(self) -> int:
        return len(self._conns)

    def subscribed_topics(self) -> set[str]:
        """Topics subscribed on any open connection."""
        return set().union(*(c.topics for c in list(self._conns)))

    # ------------------------------------------------------------------ WebSocket

    async def _send(self, c: _Conn, text: str | bytes) -> None:
        try:
            if isinstance(text, bytes):  # a text frame whose bytes are sent as they are (not_utf8)
                await c.ws.send_frame(text, WSMsgType.TEXT)
            else:
                await c.ws.send_str(text)
            self.frames_sent += 1
        except (ConnectionError, RuntimeError):
            pass

    async def _ws_handler(self, request: web.Request) -> web.StreamResponse:
        self.ws_attempts += 1
        if time.monotonic() < self._refuse_until:
            self.ws_refused += 1
            return web.Response(status=503, text="service unavailable")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.ws_connections_total += 1
        conn = _Conn(ws, request.transport, self._rng.randrange(1 << 30))
        self._conns.add(conn)
        try:
            async for m in ws:
                if m.type == WSMsgType.TEXT:
                    await self._on_text(conn, m.data)
        finally:
            self._conns.discard(conn)
        return ws

    async def _on_text(self, c: _Conn, text: str) -> None:
        try:
            req = json.loads(text)
        except ValueError:
            return
        if not isinstance(req, dict):
            return
        op, req_id = req.get("op"), req.get("req_id")
        if op == "ping":
            self.pings += 1
            if self.stale:
                return
            pong = {"success": True, "ret_msg": "pong", "conn_id": c.conn_id, "op": "ping"}
            if req_id is not None:
                pong["req_id"] = req_id
            await self._send(c, json.dumps(pong))
        elif op == "subscribe":
            self.subscribe_requests += 1
            args = req.get("args") if isinstance(req.get("args"), list) else []
            self.max_args_seen = max(self.max_args_seen, len(args))
            bad = [a for a in args if not isinstance(a, str) or not _TOPIC_RE.match(a)]
            dup = [a for a in args if a in c.topics]
            over = self._over_limit(c, args)
            ack: dict[str, Any] = {"success": not bad and not dup and not over, "ret_msg": "", "conn_id": c.conn_id, "op": "subscribe"}
            if over:
                self.limit_rejections += 1
                ack["ret_msg"] = over
            elif bad:
                ack["ret_msg"] = f"error:handler not found,topic:{bad[0]}"
            elif dup:
                ack["ret_msg"] = f"error:already subscribed,topic:{dup[0]}"
            if req_id is not None:
                ack["req_id"] = req_id
            await self._send(c, json.dumps(ack))
            if ack["success"]:
                c.topics.update(args)
                for topic in args:
                    await self._initial(c, topic)
        elif op == "unsubscribe":
            args = [a for a in (req.get("args") or []) if isinstance(a, str)]
            c.topics.difference_update(args)
            ack = {"success": True, "ret_msg": "", "conn_id": c.conn_id, "op": "unsubscribe"}
            if req_id is not None:
                ack["req_id"] = req_id
            await self._send(c, json.dumps(ack))

    def _over_limit(self, c: _Conn, args: list[Any]) -> str:
        """Why Bybit's public limits refuse this subscribe request ("" when they do not)."""
        if len(args) > self.max_args_per_request:
            return f"error:args size >{self.max_args_per_request}"
        after = c.topics | {a for a in args if isinstance(a, str)}
        if self.max_topics_per_connection is not None and len(after) > self.max_topics_per_connection:
            return f"error:too many topics on one connection (>{self.max_topics_per_connection})"
        if len(json.dumps(sorted(after))) > self.max_args_chars:
            return f"error:args length >{self.max_args_chars} characters on one connection"
        return ""

    async def _initial(self, c: _Conn, topic: str) -> None:
        if self.stale or not self.auto_stream:
            return
        kind, symbol = topic.rsplit(".", 1)
        if kind == "tickers" and symbol in self._markets:
            await self._send_ticker(c, symbol, snapshot=True)
        elif kind.startswith("orderbook") and symbol in self._markets:
            await self._send_book(c, topic, symbol, snapshot=True)

    async def _send_ticker(self, c: _Conn, symbol: str, *, snapshot: bool) -> None:
        market = self._markets.get(symbol)
        if market is None:
            return
        full = market.ticker()
        sent = c.sent_ticker.get(symbol)
        if snapshot or sent is None:
            data, typ = full, "snapshot"
        else:
            data = {k: v for k, v in full.items() if sent.get(k) != v}
            if not data:
                return
            data["symbol"], typ = symbol, "delta"
        c.sent_ticker[symbol] = full
        ts = now_ms()
        await self._send(c, json.dumps({"topic": f"tickers.{symbol}", "type": typ, "data": data, "cs": ts * 10, "ts": ts}))

    async def _send_book(self, c: _Conn, topic: str, symbol: str, *, snapshot: bool) -> None:
        depth = int(topic.split(".")[1])
        market = self._markets.get(symbol)
        if market is None:
            return
        p, rng = market.price, c.rng
        u = c.book_u.get(topic, 0) + 1
        c.book_u[topic] = u
        if snapshot:
            bids = [[f"{p - 0.1 * (i + 1):.2f}", f"{rng.uniform(0.1, 5):.3f}"] for i in range(depth)]
            asks = [[f"{p + 0.1 * (i + 1):.2f}", f"{rng.uniform(0.1, 5):.3f}"] for i in range(depth)]
            c.book_u[topic + ":center"] = int(round(p * 100))
        else:
            center = c.book_u.get(topic + ":center", int(round(p * 100))) / 100
            i = rng.randrange(depth)
            bids = [[f"{center - 0.1 * (i + 1):.2f}", f"{rng.uniform(0.1, 5):.3f}"]]
            asks = [[f"{center + 0.1 * (i + 1):.2f}", f"{rng.uniform(0.1, 5):.3f}"]]
        ts = now_ms()
        msg = {
            "topic": topic, "type": "snapshot" if snapshot else "delta", "ts": ts,
            "data": {"s": symbol, "b": bids, "a": asks, "u": u, "seq": 7_000_000_000 + u}, "cts": ts - 2,
        }
        await self._send(c, json.dumps(msg))

    async def _pace(self) -> None:
        """With ``frames_per_s``: wait until the next data frame is due (never bursts to catch up)."""
        rate = self.frames_per_s
        if not rate:
            return
        self._paced += 1
        now = time.monotonic()
        if self._pace_t0 is None or now - (self._pace_t0 + self._paced / rate) > 0.25:
            self._pace_t0 = now - self._paced / rate  # started, or fell behind: the schedule restarts here
        ahead = self._pace_t0 + self._paced / rate - now
        if ahead > 0.002:
            await asyncio.sleep(ahead)

    async def _ticker_loop(self) -> None:
        next_tick = time.monotonic()
        while True:
            if self.frames_per_s:  # a tick every interval_s, less the time the last one took to send
                next_tick = max(next_tick + self.interval_s, time.monotonic())
                await asyncio.sleep(next_tick - time.monotonic())
            else:
                await asyncio.sleep(self.interval_s)
            if self.stale:
                continue
            for frame in self._malformed[:]:
                self._malformed.remove(frame)
                for c in list(self._conns):
                    await self._send(c, frame)
            if not self.auto_stream:
                continue
            for m in list(self._markets.values()):
                m.step()
            for c in list(self._conns):
                c.ticks += 1
                await self._stream_tick(c)

    async def _stream_tick(self, c: _Conn) -> None:
        for topic in sorted(c.topics):
            kind, symbol = topic.rsplit(".", 1)
            market = self._markets.get(symbol)
            if market is None:
                continue
            if kind != "allLiquidation" or c.ticks % 10 == 0:
                await self._pace()
            ts = now_ms()
            if kind == "tickers":
                await self._send_ticker(c, symbol, snapshot=False)
            elif kind == "publicTrade":
                n = c.rng.randint(1, 3)
                data = [
                    {"T": ts, "s": symbol, "S": c.rng.choice(["Buy", "Sell"]), "v": f"{c.rng.uniform(0.001, 2):.3f}",
                     "p": f"{market.price:.2f}", "L": "PlusTick", "i": str(uuid.uuid4()), "BT": False}
                    for _ in range(n)
                ]
                await self._send(c, json.dumps({"topic": topic, "type": "snapshot", "ts": ts, "data": data}))
            elif kind == "allLiquidation" and c.ticks % 10 == 0:
                data = [{"T": ts, "s": symbol, "S": c.rng.choice(["Buy", "Sell"]), "v": f"{c.rng.uniform(0.01, 3):.3f}", "p": f"{market.price:.2f}"}]
                await self._send(c, json.dumps({"topic": topic, "type": "snapshot", "ts": ts, "data": data}))
            elif kind.startswith("orderbook"):
                await self._send_book(c, topic, symbol, snapshot=c.ticks % self.book_snapshot_every == 0)

    # ------------------------------------------------------------------ REST

    def _envelope(self, result: dict[str, Any], code: int = 0, msg: str = "OK") -> web.Response:
        body = {"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": now_ms()}
        return web.json_response(body)

    def _failure(self, request: web.Request) -> web.Response | None:
        self.rest_calls[request.path] += 1
        self.rest_log.append((request.path, dict(request.query)))
        if not self._rest_failures:
            return None
        code, status = self._rest_failures.pop(0)
        if status is not None:
            return web.Response(status=status, text=f"HTTP {status}")
        msgs = {10006: "Too many visits!", 10018: "Exceeded the IP Rate Limit", 10001: "params error", 10016: "Server error"}
        return self._envelope({}, code or 10016, msgs.get(code or 0, "error"))

    @staticmethod
    def _int(q: Any, name: str) -> int | None:
        v = q.get(name)
        return int(v) if v not in (None, "") else None

    async def _time(self, request: web.Request) -> web.Response:
        fail = self._failure(request)
        if fail is not None:
            return fail
        ns = time.time_ns()
        return self._envelope({"timeSecond": str(ns // 10**9), "timeNano": str(ns)})

    async def _kline(self, request: web.Request) -> web.Response:
        fail = self._failure(request)
        if fail is not None:
            return fail
        q = request.query
        symbol = q.get("symbol", "")
        if q.get("category") != "linear" or q.get("interval") != "1" or not re.match(r"^[A-Z0-9]{2,30}$", symbol):
            return self._envelope({}, 10001, "params error")
        limit = min(max(self._int(q, "limit") or 200, 1), 1000)
        end = min(self._int(q, "end") or now_ms(), now_ms())
        start = self._int(q, "start") or 0
        rows = []
        t = end - end % MINUTE_MS
        while t >= start and len(rows) < limit:
            rows.append(kline_row(symbol, t))
            t -= MINUTE_MS
        return self._envelope({"symbol": symbol, "category": "linear", "list": rows})

    async def _open_interest(self, request: web.Request) -> web.Response:
        fail = self._failure(request)
        if fail is not None:
            return fail
        q = request.query
        symbol = q.get("symbol", "")
        if q.get("category") != "linear" or q.get("intervalTime") != "5min" or not re.match(r"^[A-Z0-9]{2,30}$", symbol):
            return self._envelope({}, 10001, "params error")
        limit = min(max(self._int(q, "limit") or 50, 1), 200)
        end = min(self._int(q, "endTime") or now_ms(), now_ms())
        start = self._int(q, "startTime")
        cursor = q.get("cursor") or ""
        offset = int(base64.b64decode(cursor).decode().split("=")[1]) if cursor else 0
        points = []
        t = end - end % OI_STEP_MS
        lo = start if start is not None else end - limit * OI_STEP_MS
        while t >= lo:
            points.append(t)
            t -= OI_STEP_MS
        page = points[offset : offset + limit]
        nxt = base64.b64encode(f"page={offset + limit}".encode()).decode() if offset + limit < len(points) else ""
        items = [{"openInterest": f"{oi_value(symbol, t):.8f}", "timestamp": str(t)} for t in page]
        return self._envelope({"symbol": symbol, "category": "linear", "list": items, "nextPageCursor": nxt})

    async def _instruments(self, request: web.Request) -> web.Response:
        fail = self._failure(request)
        if fail is not None:
            return fail
        q = request.query
        if q.get("category") != "linear":
            return self._envelope({}, 10001, "params error")
        items = [{"symbol": s, "contractType": "LinearPerpetual", "status": "Trading", "baseCoin": s[:-4],
                  "quoteCoin": "USDT", "settleCoin": "USDT", "priceScale": "2"} for s in self.symbols]
        items += self.extra_instruments
        limit = min(max(self._int(q, "limit") or 500, 1), 1000, self.instruments_page_max)
        cursor = q.get("cursor") or ""
        offset = int(base64.b64decode(cursor).decode().split("=")[1]) if cursor else 0
        page = items[offset : offset + limit]
        nxt = base64.b64encode(f"offset={offset + limit}".encode()).decode() if offset + limit < len(items) else ""
        return self._envelope({"category": "linear", "list": page, "nextPageCursor": nxt})

    async def _tickers(self, request: web.Request) -> web.Response:
        fail = self._failure(request)
        if fail is not None:
            return fail
        rows = [m.ticker() for m in list(self._markets.values())]
        return self._envelope({"category": "linear", "list": rows})


def universe_names(n: int) -> tuple[str, ...]:
    """``n`` distinct symbol names for a server with a whole market (AAAUSDT, AABUSDT, ...)."""
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ["BTCUSDT", "ETHUSDT"]
    i = 0
    while len(out) < n:
        out.append("".join(letters[(i // 26**k) % 26] for k in (2, 1, 0)) + "USDT")
        i += 1
    return tuple(out[:n])


def main() -> None:
    ap = argparse.ArgumentParser(description="local Bybit v5 protocol server (tests, demos)")
    ap.add_argument("--port", type=int, default=8899)
    ap.add_argument("--symbols", default="BTCUSDT,ETHUSDT")
    args = ap.parse_args()
    server = BybitServer(tuple(s.strip() for s in args.symbols.split(",")), port=args.port).start()
    print(f"VIRTUOSO_BYBIT__WS_URL={server.ws_url}\nVIRTUOSO_BYBIT__REST_URL={server.rest_url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()


def fast_env(server: BybitServer, **extra: str) -> dict[str, str]:
    """``VIRTUOSO_*`` settings pointing at ``server`` with supervision shrunk for fast tests."""
    env = {
        "VIRTUOSO_SYMBOLS": ",".join(server.symbols),
        "VIRTUOSO_BYBIT__WS_URL": server.ws_url,
        "VIRTUOSO_BYBIT__REST_URL": server.rest_url,
        "VIRTUOSO_BYBIT__BACKOFF_INITIAL_S": "0.1",
        "VIRTUOSO_BYBIT__BACKOFF_MAX_S": "0.5",
        "VIRTUOSO_BYBIT__STALE_AFTER_S": "1.0",
        "VIRTUOSO_BYBIT__BACKFILL_MINUTES": "30",
        "VIRTUOSO_BYBIT__REST_TIMEOUT_S": "5",
        "VIRTUOSO_RELAY__ENABLED": "false",
        "VIRTUOSO_TRADING__ENABLED": "false",
    }
    env.update(extra)
    return env
