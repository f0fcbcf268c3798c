"""Bybit ``tickers.{symbol}`` messages: a snapshot first, then deltas with only the changed fields.

The 24 h fields (volume, turnover, high, low, previous price, change) come from a ring of 24
hourly buckets seeded with plausible history, so a fresh stream already shows sane 24 h values.
Reference: https://bybit-exchange.github.io/docs/v5/websocket/public/ticker
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from virtuoso.ingest.simulator.fmt import StringCache, decimals_and_units, fixed

FUNDING_EVERY_MS = 8 * 3_600_000


@dataclass
class _Hour:
    open: float
    high: float
    low: float
    volume: float
    turnover: float


@dataclass
class TickerState:
    """Per-symbol ticker bookkeeping: the 24 h ring and the values last sent."""

    symbol: str
    tick: float
    qty_step: float
    prices: StringCache
    sizes: StringCache
    hours: deque[_Hour] = field(default_factory=lambda: deque(maxlen=24))
    cs: int = 0

    def __post_init__(self) -> None:
        self.topic = f"tickers.{self.symbol}"
        self.qty_decimals, self.lot_units = decimals_and_units(self.qty_step)
        self._seen: dict[str, Any] = {}
    _closed: tuple[float, float, float, float] = (0.0, 0.0, 0.0, float("inf"))  # volume, turnover, high, low

    def _close(self) -> None:
        done = list(self.hours)[:-1]
        self._closed = (sum(h.volume for h in done), sum(h.turnover for h in done),
                        max((h.high for h in done), default=0.0), min((h.low for h in done), default=float("inf")))

    def seed(self, price: float, hourly_volume: float, hourly_ranges: list[float], opens: list[float]) -> None:
        """Fill the ring with 23 past hours (``opens`` as price multiples, ``hourly_ranges`` as fractions)."""
        for o, r in zip(opens, hourly_ranges):
            p = price * o
            self.hours.append(_Hour(p, p * (1 + r), p * (1 - r), hourly_volume, hourly_volume * p))
        self.hours.append(_Hour(price, price, price, 0.0, 0.0))
        self._close()

    def seed_hours(self, hours: list[tuple[float, float, float, float, float]], price: float) -> None:
        """Fill the ring with recorded past hours ``(open, high, low, volume, turnover)``, oldest first."""
        for o, h, lo, v, t in hours[-23:]:
            self.hours.append(_Hour(o, h, lo, v, t))
        self.hours.append(_Hour(price, price, price, 0.0, 0.0))
        self._close()

    def roll_hour(self, price: float) -> None:
        self.hours.append(_Hour(price, price, price, 0.0, 0.0))
        self._close()

    def add(self, high: float, low: float, volume: float, turnover: float) -> None:
        h = self.hours[-1]
        if high > h.high:
            h.high = high
        if low < h.low:
            h.low = low
        h.volume += volume
        h.turnover += turnover

    def message(self, ts_ms: int, last_u: int, mark_u: int, index_u: int, oi_lots: int, funding: float,
                bid_u: int, bid_lots: int, ask_u: int, ask_lots: int, next_funding_ms: int | None = None) -> dict[str, Any]:
        """The ticker at ``ts_ms``: a snapshot the first time, else a delta of what changed.

        Prices are tick indexes and sizes lot counts (see :class:`.fmt`); a field is formatted
        only when its value changed, which is what a delta carries anyway. ``next_funding_ms``
        defaults to the next 00/08/16 UTC.
        """
        qd, qu, tick, step = self.qty_decimals, self.lot_units, self.tick, self.qty_step
        price_str, size_str = self.prices.get, self.sizes.get
        seen = self._seen
        data: dict[str, Any] = {"symbol": self.symbol}
        hours = self.hours
        cur = hours[-1]
        c_volume, c_turnover, c_high, c_low = self._closed
        prev_u = int(hours[0].open / tick + 0.5)
        if seen.get("lastPrice") != last_u:
            old = seen.get("lastPrice")
            data["tickDirection"] = "PlusTick" if old is None or last_u > old else "MinusTick"
            seen["lastPrice"] = last_u
            data["lastPrice"] = price_str(last_u)
        pct = int(round((last_u / prev_u - 1.0) * 1e6)) if prev_u else 0
        if seen.get("price24hPcnt") != pct:
            seen["price24hPcnt"] = pct
            data["price24hPcnt"] = "%.6f" % (pct / 1e6)
        high_u = int(max(c_high, cur.high) / tick + 0.5)
        low_u = int(min(c_low, cur.low) / tick + 0.5)
        if high_u < last_u:
            high_u = last_u
        if low_u > last_u:
            low_u = last_u
        if seen.get("prevPrice24h") != prev_u:
            seen["prevPrice24h"] = prev_u
            data["prevPrice24h"] = price_str(prev_u)
        if seen.get("highPrice24h") != high_u:
            seen["highPrice24h"] = high_u
            data["highPrice24h"] = price_str(high_u)
        if seen.get("lowPrice24h") != low_u:
            seen["lowPrice24h"] = low_u
            data["lowPrice24h"] = price_str(low_u)
        if seen.get("markPrice") != mark_u:
            seen["markPrice"] = mark_u
            data["markPrice"] = price_str(mark_u)
        if seen.get("indexPrice") != index_u:
            seen["indexPrice"] = index_u
            data["indexPrice"] = price_str(index_u)
        if seen.get("bid1Price") != bid_u:
            seen["bid1Price"] = bid_u
            data["bid1Price"] = price_str(bid_u)
        if seen.get("ask1Price") != ask_u:
            seen["ask1Price"] = ask_u
            data["ask1Price"] = price_str(ask_u)
        if seen.get("bid1Size") != bid_lots:
            seen["bid1Size"] = bid_lots
            data["bid1Size"] = size_str(bid_lots)
        if seen.get("ask1Size") != ask_lots:
            seen["ask1Size"] = ask_lots
            data["ask1Size"] = size_str(ask_lots)
        if seen.get("openInterest") != oi_lots:
            seen["openInterest"] = oi_lots
            data["openInterest"] = fixed(oi_lots * qu, qd)
        volume_lots = int((c_volume + cur.volume) / step)
        if seen.get("volume24h") != volume_lots:
            seen["volume24h"] = volume_lots
            data["volume24h"] = fixed(volume_lots * qu, qd)
        oi_value = int(oi_lots * step * mark_u * tick * 100)
        if seen.get("openInterestValue") != oi_value:
            seen["openInterestValue"] = oi_value
            data["openInterestValue"] = fixed(oi_value, 2)
        turnover = int((c_turnover + cur.turnover) * 1e4)
        if seen.get("turnover24h") != turnover:
            seen["turnover24h"] = turnover
            data["turnover24h"] = fixed(turnover, 4)
        nft = (ts_ms // FUNDING_EVERY_MS + 1) * FUNDING_EVERY_MS if next_funding_ms is None else next_funding_ms
        if seen.get("nextFundingTime") != nft:
            seen["nextFundingTime"] = nft
            data["nextFundingTime"] = str(nft)
        f = int(round(funding * 1e6))
        if seen.get("fundingRate") != f:
            seen["fundingRate"] = f
            data["fundingRate"] = "%.6f" % (f / 1e6)
        self.cs += 1
        kind = "delta" if self.cs > 1 else "snapshot"
        return {"topic": self.topic, "type": kind, "data": data, "cs": self.cs, "ts": ts_ms}
