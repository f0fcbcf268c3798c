"""The market factor: how much of a symbol's move the rest of the market explains.

Crypto moves together: alts follow BTC with a beta of about 1 to 2. A symbol's move is judged after
taking out what the *other* symbols did (leave-one-out), so

- a symbol's own crash in a calm market is its own (the others did not move: nothing explains it),
- two symbols moving together are not "the market" (the others' median did not move),
- when the whole market moves, each symbol's share of it is explained, and the market's move is
  one event of its own (``virtuoso.detect.market_move``).

The factor is a liquidity-weighted median of the others' beta-scaled returns (weights capped so
no single coin is the market; BTC and ETH lead because they trade most), robust to any one symbol.
Betas are estimated online from 1-minute returns against the same factor, shrunk towards 1.
The explanation only ever *shrinks* a move towards zero, never creates one: a coin that fails to
follow a market drop has not "risen".
"""

from __future__ import annotations

import numpy as np

MIN_OTHERS = 3  # fewer other symbols than this explain nothing
MAX_WEIGHT_SHARE = 0.25  # no symbol carries more than this share of the factor's weight
BETA_HALF_LIFE_MIN = 360.0
BETA_PRIOR_MIN = 120.0  # minutes of evidence the prior beta of 1 is worth
BETA_RANGE = (0.0, 3.0)


def capped_weights(liquidity: np.ndarray) -> np.ndarray:
    """Weights from liquidity (e.g. turnover): its square root (BTC leads without being the market),
    each capped at MAX_WEIGHT_SHARE of the final total (so two coins moving together are never
    half the factor in a watchlist of five)."""
    w = np.sqrt(np.where(np.isfinite(liquidity) & (liquidity > 0), liquidity, 0.0))
    if w.sum() <= 0:
        return np.ones_like(w)
    if w.size * MAX_WEIGHT_SHARE <= 1.0:  # too few symbols for any cap: equal weights
        return np.where(w > 0, 1.0, 0.0) if (w > 0).sum() >= 1 else np.ones_like(w)
    for _ in range(20):  # capping raises the others' shares: repeat until none is over
        cap = MAX_WEIGHT_SHARE * w.sum()
        if not (w > cap * (1 + 1e-9)).any():
            break
        w = np.minimum(w, cap)
    return w


def loo_weighted_median(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, float]:
    """(for each i the weighted median of ``x`` over j != i, the weighted median over all) of one row.

    The live runner calls this nine times a second, so it is :func:`loo_weighted_median_rows`
    written for one row without the per-row bookkeeping; a property test holds the two equal."""
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    out = np.full(x.size, np.nan)
    ok = np.isfinite(x) & (w > 0)
    idx = np.flatnonzero(ok)
    m = idx.size
    if m == 0:
        return out, float("nan")
    order = idx[np.argsort(x[idx], kind="stable")]
    xs, ws = x[order], w[order]
    cum = np.cumsum(ws)
    total = cum[-1]
    everyone = float(xs[min(int(np.searchsorted(cum, total / 2.0)), m - 1)])
    if m - 1 >= MIN_OTHERS:
        target = (total - ws) / 2.0
        a = np.searchsorted(cum, target, side="left")
        b = np.searchsorted(cum, target + ws, side="left")
        j = np.minimum(np.where(a < np.arange(m), a, b), m - 1)
        out[order] = xs[j]
    if m >= MIN_OTHERS:
        out[~ok] = everyone
    return out, everyone


def loo_weighted_median_rows(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row by row: (for each i the weighted median of the row's ``x`` over j != i, the row's
    weighted median over all). ``w`` has the shape of ``x`` (or one row, shared).

    NaN values and zero weights take no part; an entry with fewer than MIN_OTHERS others gets NaN.
    Exact, in O(n log n) per row: one sort, then each leave-one-out median is a search in the
    cumulative weights with that entry's own weight taken out. Every row is searched in one call:
    the rows' cumulative weights are laid end to end with an offset per row, so the flattened
    sequence still increases.
    """
    x = np.asarray(x, dtype=float)
    rows, n = x.shape
    w = np.broadcast_to(np.asarray(w, dtype=float), x.shape)
    ok = np.isfinite(x) & (w > 0)
    ww = np.where(ok, w, 0.0)
    order = np.argsort(np.where(ok, x, np.inf), axis=1, kind="stable")  # taking part first, in order
    xs = np.take_along_axis(x, order, axis=1)
    cum = np.cumsum(np.take_along_axis(ww, order, axis=1), axis=1)
    total = cum[:, -1]
    m = ok.sum(axis=1)
    span = float(total.max()) * 2.0 + 1.0 if rows else 1.0
    offset = (np.arange(rows) * span)[:, None]
    flat = (cum + offset).ravel()
    base = (np.arange(rows) * n)[:, None]

    def find(target: np.ndarray) -> np.ndarray:
        j = np.searchsorted(flat, (target + offset).ravel(), side="left").reshape(target.shape) - base
        return np.clip(j, 0, n - 1)

    everyone = np.where(m > 0, np.take_along_axis(xs, find(total[:, None] / 2.0), axis=1)[:, 0], np.nan)
    pos = np.empty_like(order)
    np.put_along_axis(pos, order, np.arange(n)[None, :].repeat(rows, axis=0), axis=1)
    k = np.where(ok, pos, n)  # entries not taking part remove nothing
    target = (total[:, None] - ww) / 2.0
    a, b = find(target), find(target + ww)
    j = np.where(a < k, a, b)
    others_n = m[:, None] - ok.astype(int)
    out = np.where(others_n >= MIN_OTHERS, np.take_along_axis(xs, np.minimum(j, n - 1), axis=1), np.nan)
    return out, everyone


def explained_residual(ret: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """``ret`` with the market's expected share taken out, towards zero only.

    Where the expected move goes the same way as the symbol's, up to the symbol's own size is
    removed; where it goes the other way, or is unknown, the return is kept whole."""
    same = np.isfinite(expected) & (np.sign(expected) == np.sign(ret))
    cut = np.where(same, np.minimum(np.abs(expected), np.abs(ret)), 0.0)
    return ret - np.sign(ret) * cut


def residual(ret: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """``ret`` less the expected market share, both ways (NaN expected: nothing explained).

    The scale a symbol's own moves are measured in comes from this; the readings themselves use
    :func:`explained_residual`, which is never larger, so a coin that fails to follow the market is
    not an alarm."""
    return ret - np.where(np.isfinite(expected), expected, 0.0)


def loo_median(x: np.ndarray) -> np.ndarray:
    """Plain leave-one-out median (equal weights, lower of the two middles): what the other
    symbols' reading was. Works on one row or row by row."""
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        return loo_weighted_median(x, np.ones(x.size))[0]
    return loo_weighted_median_rows(x, np.ones(x.shape))[0]


class Betas:
    """Online beta of each symbol's 1-minute return on the market factor, shrunk towards 1."""

    def __init__(self, n: int) -> None:
        self._cov = np.zeros(n)
        self._var = np.zeros(n)
        self._n = np.zeros(n)
        self._alpha = 1.0 - 0.5 ** (1.0 / BETA_HALF_LIFE_MIN)

    def add_rows(self, k: int) -> None:
        self._cov = np.concatenate([self._cov, np.zeros(k)])
        self._var = np.concatenate([self._var, np.zeros(k)])
        self._n = np.concatenate([self._n, np.zeros(k)])

    def keep_rows(self, keep: np.ndarray) -> None:
        self._cov, self._var, self._n = self._cov[keep], self._var[keep], self._n[keep]

    def update(self, ret_1m: np.ndarray, factor_1m: np.ndarray) -> None:
        """Fold one minute: each symbol's return and the factor (leave-one-out) over that minute."""
        ok = np.isfinite(ret_1m) & np.isfinite(factor_1m)
        a = self._alpha
        self._cov = np.where(ok, (1 - a) * self._cov + a * ret_1m * factor_1m, self._cov)
        self._var = np.where(ok, (1 - a) * self._var + a * factor_1m * factor_1m, self._var)
        self._n = np.where(ok, np.minimum(self._n + 1, 1.0 / a), self._n)

    @property
    def beta(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            raw = np.where(self._var > 0, self._cov / self._var, 1.0)
        weight = self._n / (self._n + BETA_PRIOR_MIN)
        return np.clip(weight * raw + (1 - weight) * 1.0, *BETA_RANGE)
