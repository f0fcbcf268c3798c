"""Order-book state the parser keeps per symbol (pure): price levels with USD depth kept incrementally.

Bybit's ``orderbook.50`` stream is a snapshot and then deltas; the parser applies them here and
emits a top-of-book and depth summary. Depth is updated per level change instead of re-summed per
message, and re-summed every ``RESUM_EVERY`` level updates so float error cannot build up. Prices
are also kept sorted (``bisect``), so the best level is an index, not a ``max()`` over the book
every time a delta removes it (most deltas do, whenever the price moves).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from dataclasses import dataclass, field

RESUM_EVERY = 5_000  # level updates between full re-sums of a side's depth


@dataclass
class BookSide:
    """One side of a book with its USD depth kept incrementally (re-summed now and then to stop drift)."""

    is_bid: bool
    levels: dict[float, float] = field(default_factory=dict)
    depth_usd: float = 0.0
    updates: int = 0
    prices: list[float] = field(default_factory=list)  # the keys of ``levels``, ascending

    def best(self) -> float:
        """Highest bid or lowest ask; the side must not be empty."""
        return self.prices[-1] if self.is_bid else self.prices[0]

    def apply(self, updates: list[tuple[float, float]]) -> None:
        """Set each ``(price, size)`` level; size 0 deletes it."""
        levels, prices = self.levels, self.prices
        depth = self.depth_usd
        for price, size in updates:
            old = levels.get(price)
            if old is not None:
                depth -= price * old
                if size == 0.0:
                    del levels[price]
                    del prices[bisect_left(prices, price)]
                    continue
            elif size == 0.0:
                continue
            else:
                insort(prices, price)
            levels[price] = size
            depth += price * size
        self.updates += len(updates)
        if self.updates >= RESUM_EVERY:
            self.updates = 0
            depth = sum(p * q for p, q in levels.items())
        self.depth_usd = depth


@dataclass
class Book:
    """Both sides of one symbol's book and the last update id Bybit sent."""

    bids: BookSide = field(default_factory=lambda: BookSide(is_bid=True))
    asks: BookSide = field(default_factory=lambda: BookSide(is_bid=False))
    update_id: int = 0
