"""The detection runner's memory of the last half hour: one column per second, one row per symbol.

Every second the runner pushes one column for every symbol at once (a symbol without a new bar
carries its last values forward), so a window over any number of symbols is one numpy slice:
``tape.ago("price", 300)`` is every symbol's price five minutes ago. Volumes, taker flow and
liquidations are kept as running sums, so a window's total is a difference of two columns.

Fields (USD unless said otherwise):

- ``close``: the last trade of the second; ``price``: the median of the last three closes (one
  stray print, a fat finger or a block printed off the market, cannot move it on its own);
- ``turnover``: traded value without block trades (``BT``: negotiated off the book);
- ``buy`` / ``sell``: taker buy and sell value; ``liq`` / ``liq_long``: liquidated value, all
  and longs only; ``oi``: open interest in contracts; ``print``: the second's largest print.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from virtuoso.domain.bars import Bar

CAPACITY_S = 1_860  # the longest window (30 min) and a minute to spare
CUMULATIVE = ("turnover", "buy", "sell", "liq", "liq_long")
FIELDS = ("close", "price", "oi", "print", *CUMULATIVE)


class Tape:
    """Ring buffers of per-second values for ``n`` symbols."""

    def __init__(self, n: int, capacity_s: int = CAPACITY_S) -> None:
        self.capacity_s = int(capacity_s)
        self.n = 0
        self.pushes = 0  # columns pushed so far
        self._ring = {f: np.full((0, self.capacity_s), np.nan) for f in FIELDS}
        self._sums = np.zeros((0, len(CUMULATIVE)))
        self._last = np.full((0, 2), np.nan)  # close and open interest, carried forward
        self.started = np.zeros(0, dtype=bool)
        self.add_rows(n)

    def add_rows(self, k: int) -> None:
        """Room for ``k`` more symbols (their history starts empty)."""
        if k <= 0:
            return
        self.n += k
        for f in FIELDS:
            self._ring[f] = np.vstack([self._ring[f], np.full((k, self.capacity_s), np.nan)])
        self._sums = np.vstack([self._sums, np.zeros((k, len(CUMULATIVE)))])
        self._last = np.vstack([self._last, np.full((k, 2), np.nan)])
        self.started = np.concatenate([self.started, np.zeros(k, dtype=bool)])

    def drop_rows(self, keep: np.ndarray) -> None:
        """Keep only the rows where ``keep`` is True (a symbol stopped being followed)."""
        for f in FIELDS:
            self._ring[f] = self._ring[f][keep]
        self._sums, self._last, self.started = self._sums[keep], self._last[keep], self.started[keep]
        self.n = int(keep.sum())

    def push(self, bars_per_row: Iterable[list[Bar]]) -> None:
        """Append one second: each row's new closed 1-second bars (usually one; none carries forward)."""
        add = np.zeros((self.n, len(CUMULATIVE)))
        biggest = np.zeros(self.n)
        seen = np.zeros(self.n, dtype=bool)
        last = self._last
        for i, bars in enumerate(bars_per_row):
            for b in bars:
                c = b.close
                if not (c > 0 and math.isfinite(c)):
                    continue
                last[i, 0] = c
                seen[i] = True
                if b.open_interest == b.open_interest:
                    last[i, 1] = b.open_interest
                vol_ex = max(0.0, b.volume - b.block_volume)
                add[i, 0] += vol_ex * c if b.volume <= 0 else b.turnover * (vol_ex / b.volume)
                add[i, 1] += b.buy_volume * c
                add[i, 2] += b.sell_volume * c
                add[i, 3] += (b.long_liq_volume + b.short_liq_volume) * c
                add[i, 4] += b.long_liq_volume * c
                p = b.max_print_volume * c
                if p > biggest[i]:
                    biggest[i] = p
        self.started |= seen
        self._sums += add
        col = self.pushes % self.capacity_s
        r = self._ring
        prev2 = r["close"][:, (self.pushes - 1) % self.capacity_s] if self.pushes else np.full(self.n, np.nan)
        close = np.where(self.started, last[:, 0], np.nan)
        r["close"][:, col] = close
        # Median of this close, the previous second's and the one before (NaN-free once started).
        before = np.where(np.isfinite(prev2), prev2, close)
        older = r["close"][:, (self.pushes - 2) % self.capacity_s] if self.pushes > 1 else before
        older = np.where(np.isfinite(older), older, before)
        r["price"][:, col] = np.median(np.stack([close, before, older]), axis=0)
        r["oi"][:, col] = np.where(self.started, last[:, 1], np.nan)
        r["print"][:, col] = biggest
        for j, f in enumerate(CUMULATIVE):
            r[f][:, col] = np.where(self.started, self._sums[:, j], np.nan)
        self.pushes += 1

    # ------------------------------------------------------------------ reads

    def now(self, field: str) -> np.ndarray:
        """Every row's newest value of ``field``."""
        return self.ago(field, 0)

    def ago(self, field: str, seconds: int) -> np.ndarray:
        """Every row's value ``seconds`` before the newest (NaN before the tape reaches back that far)."""
        if seconds >= self.pushes or seconds >= self.capacity_s or self.pushes == 0:
            return np.full(self.n, np.nan)
        return self._ring[field][:, (self.pushes - 1 - seconds) % self.capacity_s]

    def change(self, field: str, seconds: int) -> np.ndarray:
        """Newest minus ``seconds`` ago: a window's total for a running sum."""
        return self.now(field) - self.ago(field, seconds)

    def window(self, field: str, seconds: int) -> np.ndarray:
        """The last ``seconds`` columns of ``field`` (rows: symbols), oldest first."""
        k = max(1, min(seconds, self.pushes, self.capacity_s))
        idx = (self.pushes - k + np.arange(k)) % self.capacity_s
        return self._ring[field][:, idx]

    def covers(self, seconds: int) -> bool:
        """Whether the tape reaches ``seconds`` back."""
        return self.pushes > seconds
