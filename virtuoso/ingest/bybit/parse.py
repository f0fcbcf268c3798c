"""Pure parser: Bybit v5 public linear WebSocket messages -> frozen domain events.

Every source (live pybit stream, simulator, replay file) hands this parser the same decoded JSON
dicts, so there is exactly one place that knows Bybit's wire format. The parser keeps the little
state Bybit's protocol needs (ticker snapshot + delta merge, order-book snapshot + delta), does no
I/O, and never raises: a message it cannot read is counted (``malformed``), a topic it does not
know is counted (``unknown``), and control frames (subscribe acks, pongs) are counted as
``control``.

Reference: https://bybit-exchange.github.io/docs/v5/websocket/public/ticker (and the sibling
pages for trade, all-liquidation, orderbook and kline).
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable

from virtuoso.domain.events import BookSummary, Event, Kline, Liquidation, Side, Ticker, Trade
from virtuoso.ingest.bybit.book import Book

SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,30}$")
_INF = math.inf
_MAX_TS_MS = 10**14
_MAX_ROUTES = 10_000
_SIDES = {"Buy": Side.BUY, "Sell": Side.SELL}

# Ticker wire field -> Ticker attribute. Deltas carry only the fields that changed.
_TICKER_FIELDS = {
    "lastPrice": "last_price",
    "markPrice": "mark_price",
    "indexPrice": "index_price",
    "openInterest": "open_interest",
    "openInterestValue": "open_interest_value",
    "fundingRate": "funding_rate",
    "nextFundingTime": "next_funding_ms",
    "volume24h": "volume_24h",
    "turnover24h": "turnover_24h",
    "bid1Price": "bid_price",
    "bid1Size": "bid_size",
    "ask1Price": "ask_price",
    "ask1Size": "ask_size",
}


class MalformedMessage(ValueError):
    """A message that names a known topic but whose content cannot be read."""


def _num(value: Any, *, positive: bool = False) -> float:
    """Bybit sends numbers as strings; reject anything that is not a finite number."""
    if isinstance(value, bool):
        raise MalformedMessage(f"boolean where a number was expected: {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise MalformedMessage(f"not a number: {value!r}") from None
    if not math.isfinite(x) or x < 0 or (positive and x == 0):
        raise MalformedMessage(f"out of range: {value!r}")
    return x


def _ms(value: Any) -> int:
    if isinstance(value, bool):
        raise MalformedMessage(f"boolean where a timestamp was expected: {value!r}")
    try:
        ts = int(value)
    except (TypeError, ValueError):
        raise MalformedMessage(f"not a timestamp: {value!r}") from None
    if not 0 < ts < 10**14:
        raise MalformedMessage(f"timestamp out of range: {value!r}")
    return ts


def _symbol(value: Any) -> str:
    if not isinstance(value, str) or not SYMBOL_RE.match(value):
        raise MalformedMessage(f"bad symbol: {str(value)[:40]!r}")
    return value


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise MalformedMessage("data is not a list")
    return value


def _dict(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedMessage("data is not an object")
    return value


_FLOAT_CACHE_MAX = 65_536  # remembered decimal strings per parser (a few MB at most)
_new = tuple.__new__  # builds an event NamedTuple from a full tuple of its fields


class BybitParser:
    """Turns decoded Bybit v5 public messages into events; one instance per stream.

    Counters (``messages``, ``events``, ``malformed``, ``unknown``, ``control``) feed the health page.
    ``last_error`` holds the reason for the most recent malformed message.
    """

    def __init__(self) -> None:
        self._tickers: dict[str, dict[str, float]] = {}
        self._books: dict[str, Book] = {}
        self._routes: dict[str, tuple[Callable[[str, dict[str, Any], int], list[Event]], str]] = {}
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
            "allLiquidation": self._liquidations,
            "liquidation": self._legacy_liquidation,
            "orderbook": self._orderbook,
            "kline": self._kline,
        }

    def parse(self, msg: Any, ts_recv_ns: int) -> list[Event]:
        """Events in ``msg`` (possibly none). Never raises."""
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
        data = _dict(msg.get("data"))
        if data.get("symbol", symbol) != symbol:
            raise MalformedMessage("data.symbol does not match the topic")
        ts = _ms(msg.get("ts"))
        if msg.get("type") == "snapshot" or symbol not in self._tickers:
            merged: dict[str, float] = {}
        else:
            merged = dict(self._tickers[symbol])
        fields = _TICKER_FIELDS
        cached, parse_float = self._floats.get, self._float
        for wire, value in data.items():
            attr = fields.get(wire)
            if attr is None or value == "" or value is None:
                continue
            try:
                x = cached(value) or parse_float(value)
            except (TypeError, ValueError):
                raise MalformedMessage(f"{wire}: not a number: {str(value)[:20]!r}") from None
            # Only the funding rate may be negative; nothing may be NaN or infinite.
            if not (0.0 <= x < _INF or (attr == "funding_rate" and -_INF < x < 0.0)):
                raise MalformedMessage(f"{wire}: out of range: {str(value)[:20]!r}")
            merged[attr] = x
        self._tickers[symbol] = merged
        if "last_price" not in merged:
            return []
        nan = math.nan
        return [
            Ticker(
                symbol=symbol,
                ts_event_ms=ts,
                ts_recv_ns=ts_recv_ns,
                last_price=merged["last_price"],
                mark_price=merged.get("mark_price", nan),
                index_price=merged.get("index_price", nan),
                open_interest=merged.get("open_interest", nan),
                open_interest_value=merged.get("open_interest_value", nan),
                funding_rate=merged.get("funding_rate", nan),
                next_funding_ms=int(merged.get("next_funding_ms", 0)),
                volume_24h=merged.get("volume_24h", nan),
                turnover_24h=merged.get("turnover_24h", nan),
                bid_price=merged.get("bid_price", nan),
                bid_size=merged.get("bid_size", nan),
                ask_price=merged.get("ask_price", nan),
                ask_size=merged.get("ask_size", nan),
            )
        ]

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
                side = _SIDES[t["S"]]
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

    def _liquidations(self, symbol: str, msg: dict[str, Any], ts_recv_ns: int) -> list[Event]:
        """All liquidations; ``S`` is the side of the liquidated position (Buy = a long).

        Sample (Bybit v5 docs)::

            {"topic": "allLiquidation.ROSEUSDT", "type": "snapshot", "ts": 1739502303204,
             "data": [{"T": 1739502302929, "s": "ROSEUSDT", "S": "Sell", "v": "20000",
                       "p": "0.04499"}]}
        """
        out: list[Event] = []
        for item in _list(msg.get("data")):
            item = _dict(item)
            if item.get("s", symbol) != symbol:
                raise MalformedMessage("liquidation symbol does not match the topic")
            out.append(self._liquidation(symbol, item, item.get("T"), ts_recv_ns))
        return out

    def _legacy_liquidation(self, symbol: str, msg: dict[str, Any], ts_recv_ns: int) -> list[Event]:
        """The retired ``liquidation`` topic (one object, ``updatedTime``), kept for old recordings."""
        item = _dict(msg.get("data"))
        return [self._liquidation(symbol, {"S": item.get("side"), "v": item.get("size"), "p": item.get("price")},
                                  item.get("updatedTime", msg.get("ts")), ts_recv_ns)]

    @staticmethod
    def _liquidation(symbol: str, item: dict[str, Any], ts: Any, ts_recv_ns: int) -> Liquidation:
        side = _SIDES.get(item.get("S"))
        if side is None:
            raise MalformedMessage("bad liquidation side")
        return Liquidation(symbol, _ms(ts), ts_recv_ns, _num(item["p"], positive=True), _num(item["v"], positive=True), side)

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
        data = _dict(msg.get("data"))
        if data.get("s", symbol) != symbol:
            raise MalformedMessage("book symbol does not match the topic")
        ts = _ms(msg.get("ts"))
        kind = msg.get("type")
        update_id = int(data.get("u", 0))
        # Read every level before touching the book, so a bad message leaves it as it was.
        bid_updates = self._levels(data.get("b", []))
        ask_updates = self._levels(data.get("a", []))
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
        bids, asks = book.bids.levels, book.asks.levels
        if not bids or not asks:
            return []
        best_bid = book.bids.best()
        best_ask = book.asks.best()
        return [
            BookSummary(symbol, ts, ts_recv_ns, best_bid, bids[best_bid], best_ask, asks[best_ask],
                        max(book.bids.depth_usd, 0.0), max(book.asks.depth_usd, 0.0))
        ]

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

    def _kline(self, symbol: str, msg: dict[str, Any], ts_recv_ns: int) -> list[Event]:
        """Klines (``kline.{interval}.{symbol}``).

        Sample (Bybit v5 docs)::

            {"topic": "kline.5.BTCUSDT", "type": "snapshot", "ts": 1672324988882,
             "data": [{"start": 1672324800000, "end": 1672325099999, "interval": "5",
                       "open": "16649.5", "close": "16677", "high": "16677", "low": "16608",
                       "volume": "2.081", "turnover": "34666.4005", "confirm": false,
                       "timestamp": 1672324988882}]}
        """
        out: list[Event] = []
        for k in _list(msg.get("data")):
            k = _dict(k)
            interval = str(k.get("interval", ""))
            if not interval.isdigit():
                raise MalformedMessage(f"unsupported kline interval {interval[:10]!r}")
            out.append(
                Kline(
                    symbol=symbol,
                    ts_event_ms=_ms(k.get("timestamp", msg.get("ts"))),
                    ts_recv_ns=ts_recv_ns,
                    start_ms=_ms(k["start"]),
                    interval_s=int(interval) * 60,
                    open=_num(k["open"], positive=True),
                    high=_num(k["high"], positive=True),
                    low=_num(k["low"], positive=True),
                    close=_num(k["close"], positive=True),
                    volume=_num(k["volume"]),
                    turnover=_num(k["turnover"]),
                    confirm=bool(k.get("confirm", False)),
                )
            )
        return out


def _signed(value: Any) -> float:
    """Funding rates may be negative; still reject non-numbers and non-finite values."""
    if isinstance(value, bool):
        raise MalformedMessage("boolean funding rate")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise MalformedMessage(f"not a number: {value!r}") from None
    if not math.isfinite(x):
        raise MalformedMessage(f"out of range: {value!r}")
    return x


