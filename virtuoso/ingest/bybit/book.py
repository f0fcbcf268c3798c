"""Order-book state the parser keeps per symbol (pure): price levels with USD depth kept incrementally.

Bybit's ``orderbook.50`` stream is a snapshot and then deltas; the parser applies them here and
emits a top-of-book and depth summary. Depth is updated per level change instead of re-summed per
message, and re-summed every ``RESUM_EVERY`` level updates so float error cannot build up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

RESUM_EVERY = 5_000  # level updates between full re-sums of a side's depth


@dataclass
class BookSide:
    """One side of a book with its USD depth kept incrementally (re-summed now and then to stop drift)."""

    is_bid: bool
    levels: dict[float, float] = field(default_factory=dict)
    depth_usd: float = 0.0
    updates: int = 0
    _best: float | None = None  # None: recompute on the next read

    def best(self) -> float:
        if self._best is None:
            self._best = max(self.levels) if self.is_bid else min(self.levels)
        return self._best

    def apply(self, updates: list[tuple[float, float]]) -> None:
        levels = self.levels
        depth = self.depth_usd
        best = self._best
        for price, size in updates:
            old = levels.get(price)
            if old is not None:
                depth -= price * old
            if size == 0.0:
                if levels.pop(price, None) is not None and price == best:
                    best = None
            else:
                levels[price] = size
                depth += price * size
                if best is not None and (price > best if self.is_bid else price < best):
                    best = price
        self._best = best
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
