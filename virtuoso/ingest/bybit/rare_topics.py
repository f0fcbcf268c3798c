"""The Bybit topics that arrive seldom (pure): liquidations and klines, read from decoded dicts only.

The busy topics (tickers, trades, order book) and the parser's state live in
:mod:`virtuoso.ingest.bybit.parse`; these need no state and no fast path.
"""

from __future__ import annotations

from typing import Any

from virtuoso.domain.events import Event, Kline, Liquidation
from virtuoso.ingest.bybit.checks import SIDES, MalformedMessage, as_dict, as_list, ms, num


def liquidations(symbol: str, msg: dict[str, Any], ts_recv_ns: int) -> list[Event]:
    """All liquidations; ``S`` is the side of the liquidated position (Buy = a long).

    Sample (Bybit v5 docs)::

        {"topic": "allLiquidation.ROSEUSDT", "type": "snapshot", "ts": 1739502303204,
         "data": [{"T": 1739502302929, "s": "ROSEUSDT", "S": "Sell", "v": "20000",
                   "p": "0.04499"}]}
    """
    out: list[Event] = []
    for item in as_list(msg.get("data")):
        item = as_dict(item)
        if item.get("s", symbol) != symbol:
            raise MalformedMessage("liquidation symbol does not match the topic")
        out.append(_liquidation(symbol, item, item.get("T"), ts_recv_ns))
    return out


def legacy_liquidation(symbol: str, msg: dict[str, Any], ts_recv_ns: int) -> list[Event]:
    """The retired ``liquidation`` topic (one object, ``updatedTime``), kept for old recordings."""
    item = as_dict(msg.get("data"))
    return [_liquidation(symbol, {"S": item.get("side"), "v": item.get("size"), "p": item.get("price")},
                         item.get("updatedTime", msg.get("ts")), ts_recv_ns)]


def _liquidation(symbol: str, item: dict[str, Any], ts: Any, ts_recv_ns: int) -> Liquidation:
    """One liquidation from its wire members (side, size, price) and time."""
    side = SIDES.get(item.get("S"))
    if side is None:
        raise MalformedMessage("bad liquidation side")
    return Liquidation(symbol, ms(ts), ts_recv_ns, num(item["p"], positive=True), num(item["v"], positive=True), side)


def klines(symbol: str, msg: dict[str, Any], ts_recv_ns: int) -> list[Event]:
    """Klines (``kline.{interval}.{symbol}``).

    Sample (Bybit v5 docs)::

        {"topic": "kline.5.BTCUSDT", "type": "snapshot", "ts": 1672324988882,
         "data": [{"start": 1672324800000, "end": 1672325099999, "interval": "5",
                   "open": "16649.5", "close": "16677", "high": "16677", "low": "16608",
                   "volume": "2.081", "turnover": "34666.4005", "confirm": false,
                   "timestamp": 1672324988882}]}
    """
    out: list[Event] = []
    for k in as_list(msg.get("data")):
        k = as_dict(k)
        interval = str(k.get("interval", ""))
        if not interval.isdigit():
            raise MalformedMessage(f"unsupported kline interval {interval[:10]!r}")
        out.append(
            Kline(
                symbol=symbol,
                ts_event_ms=ms(k.get("timestamp", msg.get("ts"))),
                ts_recv_ns=ts_recv_ns,
                start_ms=ms(k["start"]),
                interval_s=int(interval) * 60,
                open=num(k["open"], positive=True),
                high=num(k["high"], positive=True),
                low=num(k["low"], positive=True),
                close=num(k["close"], positive=True),
                volume=num(k["volume"]),
                turnover=num(k["turnover"]),
                confirm=bool(k.get("confirm", False)),
            )
        )
    return out
