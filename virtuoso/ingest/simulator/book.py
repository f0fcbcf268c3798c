"""A 50-level order-book ladder per symbol, sent as Bybit ``orderbook.50`` snapshot then deltas.

Prices are integer tick indexes. The best bid and ask are one tick apart; the other 49 levels
of each side sit on a coarser grid of ``grid`` ticks (chosen per symbol so a typical second
shifts the ladder by a few levels, which keeps deltas small, as on the real venue). Each second
the ladder follows the price: levels that leave the window are deleted (size ``"0"``, as Bybit
does), new ones are added, and the best levels plus one random level per side get new sizes.
Reference: https://bybit-exchange.github.io/docs/v5/websocket/public/orderbook
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from virtuoso.ingest.simulator.fmt import StringCache

DEPTH = 50
GRID_LEVELS = DEPTH - 1


def _outside(lo: int, hi: int, lo2: int, hi2: int) -> range:
    """Integers of [lo, hi] not in [lo2, hi2], for two windows of the same width."""
    if hi2 < lo or lo2 > hi:
        return range(lo, hi + 1)
    if lo2 > lo:
        return range(lo, lo2)
    return range(hi2 + 1, hi + 1)


def _bid_grid(best: int, g: int) -> int:
    """Grid unit of the highest grid bid (strictly below the best bid)."""
    return (best - 1) // g


def _ask_grid(best_bid: int, g: int) -> int:
    """Grid unit of the lowest grid ask (strictly above the best ask ``best_bid + 1``)."""
    return -(-(best_bid + 2) // g)


@dataclass
class Ladder:
    """Book state of one symbol: best bid index, grid, update ids and the top sizes (lots)."""

    symbol: str
    tick: float
    grid: int
    qty_step: float
    best_bid: int = 0
    update_id: int = 0
    seq: int = 0
    bid_lots: int = 0
    ask_lots: int = 0

    def __post_init__(self) -> None:
        self.topic = f"orderbook.{DEPTH}.{self.symbol}"
        self.prices = StringCache(self.tick)
        self.sizes = StringCache(self.qty_step, 4_000)

    def _levels(self, upd: dict[int, int]) -> list[list[str]]:
        """``[[price, size], ...]`` strings for {tick index: lots}."""
        pm, qm, pget, qget = self.prices.map, self.sizes.map, self.prices.get, self.sizes.get
        return [[pm.get(i) or pget(i), qm.get(q) or qget(q)] for i, q in upd.items()]

    def snapshot(self, best_bid: int, ts_ms: int, sizes: Iterator[int]) -> dict[str, Any]:
        """The full book around ``best_bid``; ``sizes`` yields lot counts."""
        g = self.grid
        self.best_bid, self.update_id, self.seq = best_bid, 1, self.seq + 1
        top_b, top_a = next(sizes), next(sizes)
        bids = {best_bid: top_b}
        gb = _bid_grid(best_bid, g)
        bids.update({(gb - k) * g: next(sizes) for k in range(GRID_LEVELS)})
        asks = {best_bid + 1: top_a}
        ga = _ask_grid(best_bid, g)
        asks.update({(ga + k) * g: next(sizes) for k in range(GRID_LEVELS)})
        self.bid_lots, self.ask_lots = top_b, top_a
        return self._msg("snapshot", ts_ms, self._levels(bids), self._levels(asks))

    def delta(self, best_bid: int, ts_ms: int, sizes: Iterator[int], picks: list[int]) -> dict[str, Any]:
        """Changes since the last message; ``picks`` are grid offsets (0..47) of levels to re-size."""
        g, ob, nb = self.grid, self.best_bid, best_bid
        bids: dict[int, int] = {}
        asks: dict[int, int] = {}
        gn, an = (nb - 1) // g, -(-(nb + 2) // g)
        if nb != ob:
            go, ao = (ob - 1) // g, -(-(ob + 2) // g)
            if go != gn:
                for u in _outside(go - GRID_LEVELS + 1, go, gn - GRID_LEVELS + 1, gn):
                    bids[u * g] = 0
            bids[ob] = 0
            if go != gn:
                for u in _outside(gn - GRID_LEVELS + 1, gn, go - GRID_LEVELS + 1, go):
                    bids[u * g] = next(sizes)
            if ob % g == 0 and gn - GRID_LEVELS < ob // g <= gn:
                bids[ob] = next(sizes)
            if ao != an:
                for u in _outside(ao, ao + GRID_LEVELS - 1, an, an + GRID_LEVELS - 1):
                    asks[u * g] = 0
            asks[ob + 1] = 0
            if ao != an:
                for u in _outside(an, an + GRID_LEVELS - 1, ao, ao + GRID_LEVELS - 1):
                    asks[u * g] = next(sizes)
            if (ob + 1) % g == 0 and an <= (ob + 1) // g < an + GRID_LEVELS:
                asks[ob + 1] = next(sizes)
        bids[(gn - picks[0]) * g] = next(sizes)
        asks[(an + picks[1]) * g] = next(sizes)
        top_b = bids[nb] = next(sizes)
        top_a = asks[nb + 1] = next(sizes)
        self.best_bid = nb
        self.bid_lots, self.ask_lots = top_b, top_a
        self.update_id += 1
        self.seq += 1
        return self._msg("delta", ts_ms, self._levels(bids), self._levels(asks))

    def _msg(self, kind: str, ts_ms: int, bids: list[list[str]], asks: list[list[str]]) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "type": kind,
            "ts": ts_ms,
            "data": {"s": self.symbol, "b": bids, "a": asks, "u": self.update_id, "seq": self.seq},
            "cts": ts_ms - 1,
        }
