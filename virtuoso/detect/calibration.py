"""Alarm levels calibrated per symbol: each statistic is judged against its own recent distribution.

A detector's statistic (a standardised return, a volume ratio, an OI change, ...) is sampled once a
minute per symbol (the largest value the statistic took within that minute). From a symbol's own
sample of the last hours to days, :func:`tail_levels` puts the alarm level where the statistic
would cross it at a chosen *rate* (an alert budget, in crossings per symbol-day) on a market like
the one just seen, so the false-alarm rate is set by construction, for BTC and for a thin coin
alike, instead of by a constant tuned on one market.

The levels sit far out in the tail (a budget of 0.1 a day is one minute in 14,400), beyond what a
day of data shows directly, so they are extrapolated with a generalised Pareto tail fitted to order
statistics (a quantile-spacing estimator in the spirit of Pickands'):

    q(p) = u + s * ((p_u / p) ** xi - 1) / (SPACING ** xi - 1)

where ``u = q(p_u)`` and ``u + s = q(p_u / SPACING)`` are measured quantiles and ``xi`` is the tail
shape. With a long sample the anchors are tail quantiles (90 % and 98 %) and the shape is measured
from a third one; with a short sample the anchors are the median and the 90 % quantile and the
shape leans on a prior (heavier than most markets show, so a short history errs towards silence).
The measured shape is shrunk towards the prior by the sample size, and clipped.

Minutes that belong to an open alert event are left out of the sample (the caller masks them), so
a manipulation does not teach the calibrator that manipulation is normal.

Everything here is vectorised over symbols: one call fits every symbol's levels for one statistic.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass
from typing import Iterator

import numpy as np

MINUTES_PER_DAY = 1_440
SPACING = 5.0  # tail probabilities of the anchor quantiles are SPACING apart (0.5 -> 0.1 -> 0.02 -> 0.004)
_BODY_P = (0.5, 0.9, 0.98)
_TAIL_P = (0.9, 0.98, 0.996)
TAIL_FROM_N = 360  # minutes of history before the tail anchors (90 % / 98 %) start to count ...
TAIL_FULL_N = 1_440  # ... and from which they alone set the level
SHORT_N = 120  # below this many minutes the body's spread is widened
MIN_POSITIVE = 10  # minutes above zero before a tail can be fitted to them
PRIOR_N = 720.0  # minutes of history the pooled prior is worth
XI_MIN, XI_MAX = -0.1, 0.6


@dataclass(frozen=True, slots=True)
class TailModel:
    """How one statistic's tail is fitted.

    A short history (under TAIL_FROM_N minutes) extrapolates from the body (median and 90 %
    quantile) with the shape ``body_xi``: the shape that carries a few hours' body out to the
    deep tail of real markets, measured on real 1-minute candles (``bench/calibrate_tails.py``).
    From TAIL_FROM_N on, the tail anchors (90 % and 98 %) take over, gradually until TAIL_FULL_N,
    with the shape measured from the 99.6 % quantile shrunk towards ``tail_xi`` (weight ``n /
    prior_n`` for the measured one). ``min_n`` minutes are needed before any level exists.
    ``cluster_min`` is how many consecutive minutes one crossing of this statistic typically spans
    (its window in minutes): crossings, not minutes above the level, are what the budget counts.
    """

    body_xi: float = 0.18
    tail_xi: float = 0.4
    prior_n: float = 2_880.0
    min_n: int = 40
    cluster_min: float = 1.0
    xi_max: float = XI_MAX


def exceedance_probability(rate_per_day: float, cluster_min: float) -> float:
    """Per-minute probability of being above the level for ``rate_per_day`` crossings a day.

    A crossing of a statistic with a window of ``cluster_min`` minutes stays above the level for
    about half that many minutes (at least one)."""
    minutes_per_crossing = max(1.0, 0.5 * (cluster_min + 1.0))
    return min(0.5, rate_per_day * minutes_per_crossing / MINUTES_PER_DAY)


@dataclass(frozen=True, slots=True)
class TailFit:
    """Fitted tails of one statistic, one entry per symbol (NaN: not enough history yet).

    Two extrapolations, from the body and from the tail, blended by ``w_tail`` (0 on a short history,
    1 from TAIL_FULL_N minutes on). ``levels(rates)`` is cheap, so the dashboard's budget sliders
    re-read levels without refitting."""

    body: tuple[np.ndarray, np.ndarray, np.ndarray]  # (u, s, xi) anchored at the median
    tail: tuple[np.ndarray, np.ndarray, np.ndarray]  # (u, s, xi) anchored at the 90 % quantile
    w_tail: np.ndarray
    n: np.ndarray  # samples behind the fit
    positive: np.ndarray  # share of the samples above zero (the fit is of those)
    ok: np.ndarray  # rows with enough of their own samples for a fit of their own
    prior: Prior | None = None
    min_n: int = 40

    def levels(self, rates_per_day: np.ndarray | list[float] | tuple[float, ...], cluster_min: float) -> np.ndarray:
        """Levels (rows: symbols, columns: rates) crossed ``rates_per_day`` times a day."""
        rates = np.atleast_1d(np.asarray(rates_per_day, dtype=float))
        p = np.array([exceedance_probability(r, cluster_min) for r in rates])
        # P(X > x) = share above zero * P(X > x | X > 0) for any level x > 0.
        with np.errstate(invalid="ignore", divide="ignore"):
            p_pos = np.fmin(p[None, :] / self.positive[:, None], 0.5)
            own = _extrapolate(*self.body, 1.0 - _BODY_P[0], p_pos)
            w = self.w_tail[:, None]
            if np.any(w > 0):
                tail = _extrapolate(*self.tail, 1.0 - _TAIL_P[0], p_pos)
                own = np.where(w > 0, (1.0 - w) * own + w * np.where(np.isfinite(tail), tail, own), own)
            own = np.where(self.ok[:, None], own, np.nan)
            if self.prior is None:
                return own
            pr = self.prior
            prior = _extrapolate(np.array([pr.u]), np.array([pr.s]), np.array([pr.xi]), 1.0 - _TAIL_P[0],
                                 np.fmin(p[None, :] / pr.share, 0.5))
            # The prior counts as PRIOR_N minutes of history: a new symbol starts from it, and its
            # own sample takes over as it grows (a third after six hours, two thirds after a day).
            w_own = (self.n / (self.n + PRIOR_N))[:, None]
            blended = np.where(np.isfinite(own), w_own * own + (1.0 - w_own) * prior, prior)
            return np.where((self.n >= self.min_n)[:, None], blended, np.nan)


def _extrapolate(u: np.ndarray, s: np.ndarray, xi: np.ndarray, p_u: float, p: np.ndarray) -> np.ndarray:
    """u + s * ((p_u / p) ** xi - 1) / (SPACING ** xi - 1): rows of anchors, ``p`` (rows, levels)."""
    ratio = p_u / p
    x = xi[:, None]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        small = np.abs(x) < 1e-6
        growth = np.where(small, np.log(ratio) / math.log(SPACING),
                          (ratio ** x - 1.0) / (SPACING ** np.where(small, 1.0, x) - 1.0))
        return u[:, None] + s[:, None] * growth


@dataclass(frozen=True, slots=True)
class Prior:
    """A statistic's pooled tail (``virtuoso.detect.priors``): 90 % and 98 % quantiles of its minutes
    above zero, their share, and the tail shape to extrapolate with."""

    u: float
    s: float
    share: float
    xi: float

    @classmethod
    def from_table(cls, row: tuple[float, ...] | None, xi: float, xi_max: float = XI_MAX) -> "Prior | None":
        """From a row of ``virtuoso.detect.priors`` (q90, q98, share[, shape]); ``xi`` is the least
        shape used (the measured one describes the tail only to the 99.6 % quantile, and real
        markets' tails grow heavier further out)."""
        if row is None:
            return None
        q90, q98, share = row[:3]
        shape = max(float(row[3]), xi) if len(row) > 3 and row[3] == row[3] else xi
        return cls(q90, max(q98 - q90, 1e-9), min(max(share, 1e-3), 1.0), min(shape, xi_max))


def fit_tails(samples: np.ndarray, model: TailModel, prior: Prior | None = None) -> TailFit:
    """Fit each row's tail (rows: symbols, columns: minutes; NaN marks a missing or masked minute).

    Every alarm level is far above zero, and many statistics are zero (or below) most minutes (no
    rise, no liquidation, open interest falling): the tail is fitted to the minutes above zero and
    the rate scaled by their share. A row with fewer than ``model.min_n`` samples, or fewer than
    MIN_POSITIVE of them above zero, gets NaN parameters (no alarm from calibration yet)."""
    x = np.asarray(samples, dtype=float)
    if x.ndim == 1:
        x = x[None, :]
    rows = x.shape[0]
    n_all = np.isfinite(x).sum(axis=1).astype(float)
    with np.errstate(invalid="ignore"):
        x = np.where(x > 0, x, np.nan)
    n = np.isfinite(x).sum(axis=1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        positive = np.where(n_all > 0, n / np.fmax(n_all, 1.0), np.nan)
    nan = np.full(rows, np.nan)
    body = [nan.copy(), nan.copy(), np.full(rows, model.body_xi)]
    tail = [nan.copy(), nan.copy(), np.full(rows, model.tail_xi)]
    w_tail = np.zeros(rows)
    ok = (n_all >= model.min_n) & (n >= MIN_POSITIVE)
    if ok.any():
        q50, q90, q98, q996 = _upper_quantiles(x[ok], n[ok])
        nn = n[ok]
        # Few minutes: the body's spread is noisy, so it is widened (by 1.7 at 40 minutes, 1 from 120).
        widen = np.sqrt(np.fmax(SHORT_N / nn, 1.0))
        body[0][ok] = q50
        body[1][ok] = _spread(q90 - q50, q50) * widen
        tail[0][ok] = q90
        tail[1][ok] = _spread(q98 - q90, q90)
        with np.errstate(invalid="ignore", divide="ignore"):
            xi_own = np.log((q996 - q98) / (q98 - q90)) / math.log(SPACING)
        trust = np.where(np.isfinite(xi_own), nn / model.prior_n, 0.0)
        shape = (trust * np.where(np.isfinite(xi_own), xi_own, 0.0) + model.tail_xi) / (trust + 1.0)
        tail[2][ok] = np.clip(shape, XI_MIN, model.xi_max)
        w_tail[ok] = np.clip((nn - TAIL_FROM_N) / (TAIL_FULL_N - TAIL_FROM_N), 0.0, 1.0)
    return TailFit(tuple(body), tuple(tail), w_tail, n_all, positive, ok, prior, model.min_n)  # type: ignore[arg-type]


def _spread(s: np.ndarray, u: np.ndarray) -> np.ndarray:
    """A flat sample (every minute the same) has no spread to scale by: use a sliver of its level."""
    return np.where(s > 0, s, np.fmax(np.abs(u) * 0.05, 1e-9))


def tail_levels(samples: np.ndarray, rates_per_day: np.ndarray, model: TailModel) -> np.ndarray:
    """Levels (rows: symbols, columns: rates) the statistic crosses at each rate per day."""
    return fit_tails(samples, model).levels(rates_per_day, model.cluster_min)


def _upper_quantiles(x: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, ...]:
    """The 50, 90, 98 and 99.6 % quantiles of each row (linear interpolation, NaN ignored).

    One sort per row: NaN sorts last, so row i's values are its first n[i] entries."""
    xs = np.sort(x, axis=1)
    rows = np.arange(xs.shape[0])
    out = []
    for q in (*_BODY_P, _TAIL_P[-1]):
        pos = q * (n - 1.0)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, (n - 1).astype(np.int64))
        frac = pos - lo
        out.append(xs[rows, lo] + (xs[rows, hi] - xs[rows, lo]) * frac)
    return tuple(out)


@contextlib.contextmanager
def nan_warnings_off() -> Iterator[None]:
    """numpy's NaN-slice warnings silenced (rows without data are NaN on purpose)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def graded_level(stat: np.ndarray, watch: np.ndarray, high: np.ndarray, critical: np.ndarray) -> np.ndarray:
    """Map a statistic onto the common level scale (1 at watch, 1.6 at high, 2.5 at critical).

    Piecewise linear between the calibrated levels (so severity follows the budgets), ``stat /
    watch`` below watch, and proportional beyond critical; monotone in ``stat`` and NaN (no level)
    where the calibration has none yet. Hot: callers hold ``np.errstate(all="ignore")``.
    """
    lv = np.where(stat < watch, stat / watch,
                  np.where(stat < high, 1.0 + 0.6 * (stat - watch) / np.fmax(high - watch, 1e-12),
                           np.where(stat < critical, 1.6 + 0.9 * (stat - high) / np.fmax(critical - high, 1e-12),
                                    2.5 * stat / critical)))
    return lv


class Calibrator:
    """Minute samples, fitted tails and alarm levels of several statistics, for every symbol.

    The runner calls :meth:`observe` every second (the minute's sample is the largest value the
    statistic took), :meth:`close_minute` once a minute (minutes of an open event are left out),
    and :meth:`refit_step` every second: it refits one statistic for one chunk of symbols, so the
    cost is spread evenly (every statistic of every symbol is refitted every few minutes).
    """

    CHUNK = 64  # symbols refitted per step

    def __init__(self, models: dict[str, TailModel], n: int, history_min: int,
                 rates: dict[str, tuple[float, float, float]],
                 priors: dict[str, tuple[float, float, float]] | None = None) -> None:
        self.models = dict(models)
        self.priors = {k: Prior.from_table((priors or {}).get(k), m.body_xi, m.xi_max) for k, m in self.models.items()}
        self.names = list(self.models)
        self.n = 0
        self.history_min = max(60, int(history_min))
        self.minutes = 0
        self._samples = {k: np.full((0, self.history_min), np.nan, dtype=np.float32) for k in self.names}
        self._max = {k: np.full(0, -np.inf) for k in self.names}
        self._fits: dict[str, TailFit] = {}
        self._levels = {k: np.full((0, 3), np.nan) for k in self.names}
        self._rates = dict(rates)
        self._cursor = 0
        self.add_rows(n)

    def add_rows(self, k: int) -> None:
        if k <= 0:
            return
        self.n += k
        for name in self.names:
            self._samples[name] = np.vstack([self._samples[name], np.full((k, self.history_min), np.nan, np.float32)])
            self._max[name] = np.concatenate([self._max[name], np.full(k, -np.inf)])
            self._levels[name] = np.vstack([self._levels[name], np.full((k, 3), np.nan)])
        self._fits.clear()

    def keep_rows(self, keep: np.ndarray) -> None:
        for name in self.names:
            self._samples[name] = self._samples[name][keep]
            self._max[name] = self._max[name][keep]
            self._levels[name] = self._levels[name][keep]
        self._fits.clear()
        self.n = int(keep.sum())

    def set_history(self, history_min: int) -> None:
        """Keep the newest ``history_min`` minutes (a longer history starts with the ones kept)."""
        h = max(60, int(history_min))
        if h == self.history_min:
            return
        for name in self.names:
            ordered = self._ordered(name)
            keep = ordered[:, -h:]
            pad = np.full((self.n, h - keep.shape[1]), np.nan, np.float32)
            self._samples[name] = np.hstack([pad, keep])
        self.history_min = h
        # The rings now hold time order ending at the last column: the next minute goes to column 0.
        self.minutes = h

    def _ordered(self, name: str) -> np.ndarray:
        ring = self._samples[name]
        col = self.minutes % self.history_min
        return np.hstack([ring[:, col:], ring[:, :col]]) if self.minutes >= self.history_min else ring

    def set_rates(self, rates: dict[str, tuple[float, float, float]]) -> None:
        """New budgets: levels are re-read from the fitted tails at once (no refit)."""
        self._rates = dict(rates)
        for name, fit in self._fits.items():
            self._levels[name] = fit.levels(self._rates[name], self.models[name].cluster_min)

    def observe(self, name: str, values: np.ndarray) -> None:
        m = self._max[name]
        np.fmax(m, np.where(np.isfinite(values), values, -np.inf), out=m)

    def close_minute(self, masked: np.ndarray) -> None:
        """Push each statistic's largest value of the minute (NaN where ``masked`` or unseen)."""
        col = self.minutes % self.history_min
        for name in self.names:
            m = self._max[name]
            self._samples[name][:, col] = np.where(masked | ~np.isfinite(m), np.nan, m).astype(np.float32)
            m.fill(-np.inf)
        self.minutes += 1

    def refit_step(self) -> None:
        """Refit one statistic for one chunk of symbols (round robin)."""
        if self.n == 0 or not self.names:
            return
        chunks = max(1, -(-self.n // self.CHUNK))
        name = self.names[(self._cursor // chunks) % len(self.names)]
        c = self._cursor % chunks
        self._cursor += 1
        rows = slice(c * self.CHUNK, min(self.n, (c + 1) * self.CHUNK))
        self.refit(name, rows)

    def refit(self, name: str, rows: slice | None = None) -> None:
        rows = rows if rows is not None else slice(0, self.n)
        model = self.models[name]
        part = fit_tails(self._samples[name][rows].astype(float), model, self.priors[name])
        fit = self._fits.get(name)
        if fit is None or fit.n.size != self.n:
            fit = fit_tails(np.full((self.n, 1), np.nan), model, self.priors[name])
            self._fits[name] = fit
        for whole, piece in zip((*fit.body, *fit.tail, fit.w_tail, fit.n, fit.positive, fit.ok),
                                (*part.body, *part.tail, part.w_tail, part.n, part.positive, part.ok)):
            whole[rows] = piece
        self._levels[name][rows] = part.levels(self._rates[name], model.cluster_min)

    def refit_all(self) -> None:
        for name in self.names:
            self.refit(name)

    def levels(self, name: str) -> np.ndarray:
        """(rows: symbols) x (watch, high, critical) alarm levels of ``name``; NaN where none yet."""
        return self._levels[name]

    def samples(self, name: str) -> np.ndarray:
        """The minute samples of ``name`` in time order (rows: symbols)."""
        return self._ordered(name)
