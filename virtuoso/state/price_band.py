"""The price band: a well-formed print far from a symbol's market is rejected and counted.

A trade at 1.0 next to a market at 65,000 parses cleanly, and folded into a bar it would make a
1-minute candle with a 99.998 % wick, a "price move" for every detector and a chart nobody can
read. Such prints come from a venue glitch, a test fill or a bug upstream, never from the market:
between two consecutive prints a perpetual does not move by tens of percent.

Rule, per symbol: the reference is the last accepted price (a trade's price, or a ticker's last
price). A print is in the band when it is within ``band_pct`` of the reference on a log scale
(``ref / (1 + b) <= price <= ref * (1 + b)``: with 25 % a print may be at most 1.25 times or at
least 0.8 times the reference). A trade outside the band is dropped before it reaches the bars and
counted; a ticker outside the band (its last price) is dropped whole and counted. The first print
of a symbol sets the reference.

A real jump beyond the band (say, the first prints after a long disconnect in a crash) must not
be locked out for ever: when ``reanchor_after`` consecutive trades outside the band agree with
each other (each within the band of the one before), the band moves to them (counted as a
re-anchor) and they are accepted from then on. A lone stray print is followed by prints at the
market, which resets the run, so it never re-anchors. Tickers never re-anchor: Bybit's delta
tickers carry the last price forward, so one bad ticker value would repeat itself.

``band_pct`` 0 turns the check off. Called by :class:`virtuoso.app.pipeline.Pipeline` between
the parser and :class:`~virtuoso.state.market.MarketState` (one pipeline thread; not locked).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from virtuoso.domain.events import Ticker, Trade

REANCHOR_AFTER = 20


class PriceBand:
    """Screens trades and tickers against each symbol's last accepted price (see the module docs)."""

    def __init__(self, band_pct: float, reanchor_after: int = REANCHOR_AFTER) -> None:
        self.band_pct = float(band_pct)
        self.enabled = self.band_pct > 0
        self._up = 1.0 + self.band_pct / 100.0
        self.reanchor_after = max(1, int(reanchor_after))
        self._ref: dict[str, float] = {}
        self._run: dict[str, tuple[float, int]] = {}  # symbol -> (last out-of-band trade price, run length)
        self.rejected_trades = 0
        self.rejected_tickers = 0
        self.reanchors = 0
        self.last_rejected: dict[str, Any] | None = None

    def screen(self, events: Sequence[Any]) -> Sequence[Any]:
        """``events`` itself when every one is in the band (the common case), else those that are."""
        if not self.enabled:
            return events
        keep: list[Any] | None = None
        for i, ev in enumerate(events):
            kind = type(ev)
            if kind is Trade:
                ok = self._trade(ev.symbol, ev.price)
            elif kind is Ticker:
                ok = self._ticker(ev.symbol, ev.last_price)
            else:
                ok = True
            if not ok:
                if keep is None:
                    keep = list(events[:i])
                self._note(ev)
            elif keep is not None:
                keep.append(ev)
        return events if keep is None else keep

    def _in_band(self, ref: float, price: float) -> bool:
        up = self._up
        return ref / up <= price <= ref * up

    def _trade(self, symbol: str, price: float) -> bool:
        if not (price > 0.0 and price != math.inf):  # NaN, zero, negative or infinite: never a market price
            self.rejected_trades += 1
            return False
        ref = self._ref.get(symbol)
        if ref is None or self._in_band(ref, price):
            self._ref[symbol] = price
            if self._run:
                self._run.pop(symbol, None)
            return True
        last, n = self._run.get(symbol, (price, 0))
        n = n + 1 if n and self._in_band(last, price) else 1
        if n >= self.reanchor_after:
            self._ref[symbol] = price
            del self._run[symbol]
            self.reanchors += 1
            return True
        self._run[symbol] = (price, n)
        self.rejected_trades += 1
        return False

    def _ticker(self, symbol: str, price: float) -> bool:
        if not (price > 0.0 and price != math.inf):  # no last price in this ticker: nothing to judge
            return True
        ref = self._ref.get(symbol)
        if ref is None or self._in_band(ref, price):
            self._ref[symbol] = price
            return True
        self.rejected_tickers += 1
        return False

    def _note(self, ev: Any) -> None:
        price = ev.price if type(ev) is Trade else ev.last_price
        self.last_rejected = {"symbol": ev.symbol, "kind": type(ev).__name__.lower(), "price": price,
                              "reference": self._ref.get(ev.symbol), "ts_event_ms": ev.ts_event_ms}

    def stats(self) -> dict[str, Any]:
        """Flat counters for the health page's pipeline section."""
        last = self.last_rejected
        return {
            "price_band_pct": self.band_pct,
            "price_rejected_trades": self.rejected_trades,
            "price_rejected_tickers": self.rejected_tickers,
            "price_band_reanchors": self.reanchors,
            "price_last_rejected": "none" if last is None else (
                f"{last['kind']} {last['symbol']} at {last['price']:g}"
                + (f" (market {last['reference']:g})" if last["reference"] else "")),
        }
