"""Pure parser: Bybit v5 public linear WebSocket messages -> frozen domain events.

Every source (live pybit stream, simulator, replay file) hands this parser the same decoded JSON
dicts, so there is exactly one place that knows Bybit's wire format. The parser keeps the little
state Bybit's protocol needs (ticker snapshot + delta merge, order-book snapshot + delta), does no
I/O, and never raises: a message it cannot read is counted (``malformed``), a topic it does not
know is counted (``unknown``), and control frames (subscribe acks, pongs) are counted as
``control``.

Messages arrive either decoded (dicts, from the simulator) or as raw frames
(:class:`~virtuoso.ingest.bybit.frames.Frame`, from Bybit and replay files): a frame of a busy
topic is read from typed rows decoded by ``msgspec``, and anything those rows do not describe
exactly goes the dict way, so both give the same events (tests/property/test_parse_properties.py).
The seldom topics (liquidations, klines) are in :mod:`virtuoso.ingest.bybit.rare_topics`.

Reference: https://bybit-exchange.github.io/docs/v5/websocket/public/ticker (and the sibling
pages for trade, all-liquidation, orderbook and kline).
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable

import msgspec
import orjson

from virtuoso.domain.events import BookSummary, Event, Ticker, Trade
from virtuoso.ingest.bybit import frames, rare_topics
from virtuoso.ingest.bybit.book import Book
from virtuoso.ingest.bybit.checks import SIDES, MalformedMessage, as_dict, ms
from virtuoso.ingest.bybit.frames import TICKER_ATTRS, BookEnvelope, Frame, TickerEnvelope, TradesEnvelope, typed_data

SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,30}$")
_INF = math.inf
_MAX_TS_MS = 10**14
_MAX_ROUTES = 10_000

# Ticker wire field -> its index in a merged ticker (TICKER_ATTRS order). Deltas carry only the
# fields that changed; a merged ticker is a list of floats, NaN for fields never seen.
_TICKER_FIELDS = {wire: i for i, wire in enumerate(frames.TickerRow.__struct_fields__[:len(TICKER_ATTRS)])}
_NO_TICKER = (math.nan,) * len(TICKER_ATTRS)
_TICKER_INDEXES = range(len(TICKER_ATTRS))
_FUNDING = TICKER_ATTRS.index("funding_rate")
_NEXT_FUNDING = TICKER_ATTRS.index("next_funding_ms")
_UNSET = msgspec.UNSET


# A frame fast path: (symbol, envelope, receive time) -> events, or None to take the dict path.
FastPath = Callable[[str, Any, int], "list[Event] | None"]

_FLOAT_CACHE_MAX = 65_536  # remembered decimal strings per parser (a few MB at most)
_new = tuple.__new__  # builds an event NamedTuple from a full tuple of its fields


class BybitParser:
    """Turns Bybit v5 public messages (decoded dicts or raw frames) into events; one instance per stream.

    Counters (``messages``, ``events``, ``malformed``, ``unknown``, ``control``) feed the health page.
    ``last_error`` holds the reason for the most recent malformed message.
    """

    def __init__(self) -> None:
        self._tickers: dict[str, list[float]] = {}  # merged tickers, TICKER_ATTRS order
        self._books: dict[str, Book] = {}
        self._routes: dict[str, tuple[Callable[[str, dict[str, Any], int], list[Event]], str]] = {}
        # Topic -> (frame fast path, symbol); learnt from the first message of a topic (dict path).
        self._fast_routes: dict[str, tuple[FastPath, str]] = {}
        self._floats: dict[Any, float] = {}  # decimal string -> float, see _float
        self.messages = 0
        self.events = 0
        self.malformed = 0
        self.unknown = 0
        self.control = 0
        self.last_error = ""
        self._handlers: dict[str, Callable[[str, dict[str, Any], int], list[Event]]] = {
            "tickers": self._ticker,
            "publicTrade": self._trades,
            "allLiquidation": rare_topics.liquidations,
            "liquidation": rare_topics.legacy_liquidation,
            "orderbook": self._orderbook,
            "kline": rare_topics.klines,
        }
        # Frame fast paths: return the events, or None to send the frame the dict way.
        self._fast: dict[str, FastPath] = {
            "tickers": self._fast_ticker,
            "publicTrade": self._fast_trades,
            "orderbook": self._fast_orderbook,
        }

    def parse(self, msg: Any, ts_recv_ns: int) -> list[Event]:
        """Events in ``msg`` (possibly none): a decoded message dict, or a :class:`Frame`. Never raises.

        A frame takes the fast path (:mod:`virtuoso.ingest.bybit.frames`) when its topic is one it
        knows and every value is as expected; otherwise it is decoded whole and read as a dict.
        """
        if type(msg) is Frame:
            env = msg[0]
            topic = env.topic
            fast = self._fast_routes.get(topic) if type(topic) is str else None
            if fast is not None:
                try:
                    events = fast[0](fast[1], env, ts_recv_ns)
                except MalformedMessage:  # raised before any state changed: the dict path says why
                    events = None
                if events is not None:
                    self.messages += 1
                    self.events += len(events)
                    return events
            msg = _decode_whole(msg)
        self.messages += 1
        if not isinstance(msg, dict):
            return self._bad("message is not a JSON object")
        topic = msg.get("topic")
        if not isinstance(topic, str):
            if "op" in msg or "success" in msg or "ret_msg" in msg:
                self.control += 1
                return []
            self.unknown += 1
            return []
        route = self._routes.get(topic)
        if route is None:
            parts = topic.split(".")
            handler = self._handlers.get(parts[0])
            if handler is None or len(parts) < 2:
                self.unknown += 1
                return []
            if not SYMBOL_RE.match(parts[-1]):
                return self._bad(f"bad symbol in topic {topic[:60]!r}")
            route = (handler, parts[-1])
            if len(self._routes) < _MAX_ROUTES:  # bounded: hostile topics cannot grow it forever
                self._routes[topic] = route
                fast = self._fast.get(parts[0])
                if fast is not None:
                    self._fast_routes[topic] = (fast, parts[-1])
        handler, symbol = route
        try:
            events = handler(symbol, msg, ts_recv_ns)
        except (MalformedMessage, KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError) as exc:
            return self._bad(f"{topic[:60]}: {exc}")
        except Exception as exc:  # a parser bug must still not stop the stream: count it
            return self._bad(f"{topic[:60]}: unexpected {type(exc).__name__}: {exc}")
        self.events += len(events)
        return events

    def stats(self) -> dict[str, int | str]:
        return {
            "messages": self.messages,
            "events": self.events,
            "malformed": self.malformed,
            "unknown": self.unknown,
            "control": self.control,
            "last_error": self.last_error,
        }

    def reset(self) -> None:
        """Forget merged ticker and book state (after a reconnect Bybit resends snapshots)."""
        self._tickers.clear()
        self._books.clear()

    def _float(self, raw: Any) -> float:
        """``float(raw)``, remembered. Bybit repeats the same decimal strings all the time (prices on
        a tick grid, round sizes), and parsing one costs about seven dict lookups. Bounded: the
        cache starts afresh when full. Callers read ``self._floats.get(raw) or self._float(raw)``."""
        x = float(raw)
        cache = self._floats
        if len(cache) >= _FLOAT_CACHE_MAX:
            cache.clear()
        cache[raw] = x
        return x

    def _bad(self, reason: str) -> list[Event]:
        self.malformed += 1
        self.last_error = reason[:200]
        return []

    def _ticker(self, symbol: str, msg: dict[str, Any], ts_recv_ns: int) -> list[Event]:
        """Merge a ticker snapshot or delta and emit the full ticker.

        Sample (Bybit v5 docs, linear)::

            {"topic": "tickers.BTCUSDT", "type": "snapshot",
             "data": {"symbol": "BTCUSDT", "tickDirection": "PlusTick", "price24hPcnt": "0.017103",
                      "lastPrice": "17216.00", "prevPrice24h": "16926.50", "highPrice24h": "17281.50",
                      "lowPrice24h": "16915.00", "prevPrice1h": "17238.00", "markPrice": "17217.33",
                      "indexPrice": "17227.36", "openInterest": "68744.761",
                      "openInterestValue": "1183601235.91", "turnover24h": "1570383121.943499",
                      "volume24h": "91705.276", "nextFundingTime": "1673280000000",
                      "fundingRate": "-0.000212", "bid1Price": "17215.50", "bid1Size": "84.489",
                      "ask1Price": "17216.00", "ask1Size": "83.020"},
             "cs": 24987956059, "ts": 1673272861686}

        A delta carries only the changed fields, so a delta before any snapshot yields a ticker
        only once a last price is known; fields never seen are NaN.
        """
        data = as_dict(msg.get("data"))
        if data.get("symbol", symbol) != symbol:
            raise MalformedMessage("data.symbol does not match the topic")
        ts = ms(msg.get("ts"))
        merged = self._merge_base(symbol, msg.get("type"))
        fields = _TICKER_FIELDS
        cached, parse_float = self._floats.get, self._float
        for wire, value in data.items():
            i = fields.get(wire)
            if i is None or value == "" or value is None:
                continue
            try:
                x = cached(value) or parse_float(value)
            except (TypeError, ValueError):
                raise MalformedMessage(f"{wire}: not a number: {str(value)[:20]!r}") from None
            # Only the funding rate may be negative; nothing may be NaN or infinite.
            if not (0.0 <= x < _INF or (i == _FUNDING and -_INF < x < 0.0)):
                raise MalformedMessage(f"{wire}: out of range: {str(value)[:20]!r}")
            merged[i] = x
        return self._ticker_event(symbol, ts, ts_recv_ns, merged)

    def _fast_ticker(self, symbol: str, env: Any, ts_recv_ns: int) -> list[Event] | None:
        """:meth:`_ticker` for a frame whose values all decoded as expected (None: take the dict path)."""
        ts = env.ts
        if type(ts) is not int or not 0 < ts < _MAX_TS_MS:
            return None
        row = typed_data(env, TickerEnvelope, frames.TICKER)
        if row is None:
            return None
        if row.symbol is not _UNSET and row.symbol != symbol:
            return None
        merged = self._merge_base(symbol, env.type)
        # Ranges were checked by the decoder; zip stops before ``symbol``, the row's last field.
        for i, x in zip(_TICKER_INDEXES, msgspec.structs.astuple(row)):
            if x is not None:
                merged[i] = x
        return self._ticker_event(symbol, ts, ts_recv_ns, merged)

    def _merge_base(self, symbol: str, kind: Any) -> list[float]:
        """A copy of the merged ticker a delta applies to (all NaN for a snapshot or the first one)."""
        prev = self._tickers.get(symbol)
        if kind == "snapshot" or prev is None:
            return list(_NO_TICKER)
        return prev.copy()

    def _ticker_event(self, symbol: str, ts: int, ts_recv_ns: int, merged: list[float]) -> list[Event]:
        """Keep ``merged`` as the symbol's ticker; emit it once a last price is known."""
        self._tickers[symbol] = merged
        if merged[0] != merged[0]:  # no last price yet
            return []
        next_funding = merged[_NEXT_FUNDING]
        return [_new(Ticker, (symbol, ts, ts_recv_ns, *merged[:_NEXT_FUNDING],
                              int(next_funding) if next_funding == next_funding else 0,
                              *merged[_NEXT_FUNDING + 1:]))]

    def _trades(self, symbol: str, msg: dict[str, Any], ts_recv_ns: int) -> list[Event]:
        """Public trades, several per message.

        Sample (Bybit v5 docs)::

            {"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": 1672304486868,
             "data": [{"T": 1672304486865, "s": "BTCUSDT", "S": "Buy", "v": "0.001",
                       "p": "16578.50", "L": "PlusTick", "i": "20f43950-d8dd-5b31-9112-a178eb6023af",
                       "BT": false}]}
        """
        data = msg.get("data")
        if type(data) is not list:
            raise MalformedMessage("data is not a list")
        out: list[Event] = []
        append = out.append
        cached, parse_float = self._floats.get, self._float
        for t in data:
            # Inline conversions: this loop runs for every public trade (see bench/ingest.py).
            try:
                side = SIDES[t["S"]]
                p, v = t["p"], t["v"]
                price = cached(p) or parse_float(p)
                size = cached(v) or parse_float(v)
                ts = int(t["T"])
                sym = t.get("s", symbol)
                trade_id = t.get("i", "")
            except (KeyError, TypeError, ValueError, AttributeError):
                raise MalformedMessage(f"bad trade {str(t)[:80]!r}") from None
            if not (0.0 < price < _INF and 0.0 < size < _INF and 0 < ts < _MAX_TS_MS):
                raise MalformedMessage(f"trade out of range: p={price!r} v={size!r} T={ts!r}")
            if sym != symbol:
                raise MalformedMessage("trade symbol does not match the topic")
            if type(trade_id) is not str or len(trade_id) > 64:
                trade_id = str(trade_id)[:64]
            # tuple.__new__ skips the NamedTuple's Python-level __new__: half the cost per trade.
            append(_new(Trade, (symbol, ts, ts_recv_ns, price, size, side, trade_id, t.get("BT") is True)))
        return out

    def _fast_trades(self, symbol: str, env: Any, ts_recv_ns: int) -> list[Event] | None:
        """:meth:`_trades` for a frame whose trades all decoded as expected (None: take the dict path)."""
        rows = typed_data(env, TradesEnvelope, frames.TRADES)
        if rows is None:
            return None
        out: list[Event] = []
        append = out.append
        for t in rows:  # price, size and id ranges already checked by the decoder
            ts = t.T
            if not (type(ts) is int and 0 < ts < _MAX_TS_MS and (t.s is _UNSET or t.s == symbol)):
                return None
            append(_new(Trade, (symbol, ts, ts_recv_ns, t.p, t.v, t.S, t.i, t.BT is True)))
        return out

    def _orderbook(self, symbol: str, msg: dict[str, Any], ts_recv_ns: int) -> list[Event]:
        """Order book snapshot or delta; emits the top of book and depth within the kept levels.

        Sample (Bybit v5 docs)::

            {"topic": "orderbook.50.BTCUSDT", "type": "snapshot", "ts": 1672304484978,
             "data": {"s": "BTCUSDT", "b": [["16493.50", "0.006"], ["16493.00", "0.100"]],
                      "a": [["16611.00", "0.029"], ["16612.00", "0.213"]],
                      "u": 18521288, "seq": 7961638724},
             "cts": 1672304484976}

        Size "0" in a delta deletes the level. ``u == 1`` (or a new snapshot) resets the book.
        """
        data = as_dict(msg.get("data"))
        if data.get("s", symbol) != symbol:
            raise MalformedMessage("book symbol does not match the topic")
        ts = ms(msg.get("ts"))
        update_id = int(data.get("u", 0))
        # Read every level before touching the book, so a bad message leaves it as it was.
        bid_updates = self._levels(data.get("b", []))
        ask_updates = self._levels(data.get("a", []))
        return self._book_update(symbol, msg.get("type"), update_id, bid_updates, ask_updates, ts, ts_recv_ns)

    def _fast_orderbook(self, symbol: str, env: Any, ts_recv_ns: int) -> list[Event] | None:
        """:meth:`_orderbook` for a frame whose levels all decoded as expected (None: take the dict path)."""
        ts = env.ts
        if type(ts) is not int or not 0 < ts < _MAX_TS_MS:
            return None
        row = typed_data(env, BookEnvelope, frames.BOOK)
        if row is None:
            return None
        update_id = row.u  # level ranges already checked by the decoder
        if type(update_id) is not int or (row.s is not _UNSET and row.s != symbol):
            return None
        return self._book_update(symbol, env.type, update_id, row.b, row.a, ts, ts_recv_ns)

    def _book_update(self, symbol: str, kind: Any, update_id: int, bid_updates: list[tuple[float, float]],
                     ask_updates: list[tuple[float, float]], ts: int, ts_recv_ns: int) -> list[Event]:
        """Apply checked level updates; raises (before any change) for a delta the book cannot take."""
        book = self._books.get(symbol)
        if kind == "snapshot" or update_id == 1 or book is None:
            if kind != "snapshot" and update_id != 1:
                raise MalformedMessage("order book delta before any snapshot")
            book = Book()
            self._books[symbol] = book
        elif kind != "delta":
            raise MalformedMessage(f"unknown order book type {str(kind)[:20]!r}")
        book.bids.apply(bid_updates)
        book.asks.apply(ask_updates)
        book.update_id = update_id
        bids, asks = book.bids, book.asks
        if not bids.prices or not asks.prices:
            return []
        best_bid, best_ask = bids.best(), asks.best()
        bid_depth, ask_depth = bids.depth_usd, asks.depth_usd
        return [_new(BookSummary, (symbol, ts, ts_recv_ns, best_bid, bids.levels[best_bid], best_ask,
                                   asks.levels[best_ask], bid_depth if bid_depth > 0.0 else 0.0,
                                   ask_depth if ask_depth > 0.0 else 0.0))]

    def _levels(self, raw: Any) -> list[tuple[float, float]]:
        """``[[price, size], ...]`` as floats; a price must be positive, a size non-negative (0 deletes)."""
        if type(raw) is not list:
            raise MalformedMessage("book side is not a list")
        cached, parse_float = self._floats.get, self._float
        out = []
        for level in raw:
            try:
                price, size = level
                p = cached(price) or parse_float(price)
                q = cached(size) or parse_float(size)
            except (TypeError, ValueError):
                raise MalformedMessage(f"bad book level {str(level)[:40]!r}") from None
            if not (0.0 < p < _INF and 0.0 <= q < _INF):
                raise MalformedMessage(f"book level out of range {str(level)[:40]!r}")
            out.append((p, q))
        return out


def _decode_whole(frame: Frame) -> Any:
    """The frame as a dict for the dict path (None, counted as malformed there, if orjson refuses it)."""
    try:
        return orjson.loads(frame.raw)
    except orjson.JSONDecodeError:
        return None
