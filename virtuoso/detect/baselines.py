"""Each symbol's usual behaviour, from its own closed minutes: the scales the statistics are read in.

Refreshed once a minute for every symbol at once (numpy rows). A statistic is a reading in units
of the symbol's own usual: a 5-minute return in multiples of its own 5-minute volatility, volume
in multiples of its own usual volume. How rare a reading is, and so where the alarm is, is then
measured by :mod:`virtuoso.detect.calibration` on the symbol's own history of readings.

- ``sigma_1m_pct``: volatility of 1-minute returns *after the market's share is taken out*, an
  exponentially weighted deviation (half-life SIGMA_HALF_LIFE_MIN) of returns clipped at
  CLIP_SIGMAS, never below a robust (MAD) deviation of the last two hours: a volatile hour raises
  it within minutes, one pump's few huge minutes do not blind it for an hour.
- ``volume_per_s``: median minute turnover of the last VOLUME_MINUTES minutes (never below a fifth
  of the mean: a coin that mostly sleeps still has a level), per second.
- ``oi_sigma_1m_pct``: the same kind of deviation for 1-minute open-interest changes.
- ``liq_per_min``: mean of minute liquidations, each capped at the 90 % quantile of the minutes
  that had any (a cascade does not become the norm), never below LIQ_FLOOR_SHARE of the minute's
  usual turnover (most minutes of most coins liquidate nothing: "usual" cannot be zero).
"""

from __future__ import annotations

import math

import numpy as np

from virtuoso.detect.calibration import nan_warnings_off

HISTORY_MIN = 120
VOLUME_MINUTES = 60
SIGMA_HALF_LIFE_MIN = 45.0
OI_HALF_LIFE_MIN = 60.0
CLIP_SIGMAS = 4.0
MIN_SIGMA_PCT = 0.005
MIN_OI_SIGMA_PCT = 0.001
MIN_MINUTES = 10  # minutes of history before a scale exists
LIQ_FLOOR_SHARE = 0.001  # usual liquidations are at least this share of usual turnover
_MAD = 1.4826


class Baselines:
    """Minute histories (rows: symbols) and the scales derived from them."""

    def __init__(self, n: int) -> None:
        self.n = 0
        self.minutes = np.zeros(0, dtype=np.int64)
        self._ret = np.full((0, HISTORY_MIN), np.nan)
        self._turnover = np.full((0, HISTORY_MIN), np.nan)
        self._doi = np.full((0, HISTORY_MIN), np.nan)
        self._liq = np.full((0, HISTORY_MIN), np.nan)
        self._var = np.full(0, np.nan)
        self._oi_var = np.full(0, np.nan)
        self._col = 0
        self.sigma_1m_pct = np.full(0, np.nan)
        self.volume_per_s = np.full(0, np.nan)
        self.oi_sigma_1m_pct = np.full(0, np.nan)
        self.liq_per_min = np.full(0, np.nan)
        self.add_rows(n)

    def add_rows(self, k: int) -> None:
        if k <= 0:
            return
        self.n += k
        nan_block = np.full((k, HISTORY_MIN), np.nan)
        self._ret = np.vstack([self._ret, nan_block])
        self._turnover = np.vstack([self._turnover, nan_block])
        self._doi = np.vstack([self._doi, nan_block])
        self._liq = np.vstack([self._liq, nan_block])
        pad = np.full(k, np.nan)
        self._var, self._oi_var = np.concatenate([self._var, pad]), np.concatenate([self._oi_var, pad])
        self.minutes = np.concatenate([self.minutes, np.zeros(k, dtype=np.int64)])
        for name in ("sigma_1m_pct", "volume_per_s", "oi_sigma_1m_pct", "liq_per_min"):
            setattr(self, name, np.concatenate([getattr(self, name), pad]))

    def keep_rows(self, keep: np.ndarray) -> None:
        for name in ("_ret", "_turnover", "_doi", "_liq", "_var", "_oi_var", "minutes", "sigma_1m_pct",
                     "volume_per_s", "oi_sigma_1m_pct", "liq_per_min"):
            setattr(self, name, getattr(self, name)[keep])
        self.n = int(keep.sum())

    def update(self, ret_pct: np.ndarray, turnover: np.ndarray, doi_pct: np.ndarray, liq: np.ndarray) -> None:
        """Fold one closed minute for every row (NaN: the row has no data for that minute)."""
        col = self._col % HISTORY_MIN
        self._col += 1
        self._ret[:, col], self._turnover[:, col], self._doi[:, col], self._liq[:, col] = ret_pct, turnover, doi_pct, liq
        self.minutes += np.isfinite(turnover).astype(np.int64)
        self._var = _ewm_clipped(self._var, ret_pct, SIGMA_HALF_LIFE_MIN)
        self._oi_var = _ewm_clipped(self._oi_var, doi_pct, OI_HALF_LIFE_MIN)
        enough = self.minutes >= MIN_MINUTES
        with np.errstate(invalid="ignore"), nan_warnings_off():
            mad = _MAD * np.nanmedian(np.abs(self._ret), axis=1)
            oi_mad = _MAD * np.nanmedian(np.abs(self._doi), axis=1)
            recent = self._recent(self._turnover, VOLUME_MINUTES)
            vol = np.maximum(np.nanmedian(recent, axis=1), 0.2 * np.nanmean(recent, axis=1))
            liq = self._recent(self._liq, HISTORY_MIN)
            cap = np.nanquantile(np.where(liq > 0, liq, np.nan), 0.9, axis=1)
            liq_mean = np.nanmean(np.fmin(liq, np.where(np.isfinite(cap), cap, 0.0)[:, None]), axis=1)
            liq_mean = np.fmax(np.where(np.isfinite(liq_mean), liq_mean, 0.0), LIQ_FLOOR_SHARE * vol)
        self.sigma_1m_pct = np.where(enough, np.fmax(np.fmax(np.sqrt(self._var), mad), MIN_SIGMA_PCT), np.nan)
        self.oi_sigma_1m_pct = np.where(enough, np.fmax(np.fmax(np.sqrt(self._oi_var), oi_mad), MIN_OI_SIGMA_PCT), np.nan)
        self.volume_per_s = np.where(enough, vol / 60.0, np.nan)
        self.liq_per_min = np.where(enough, liq_mean, np.nan)

    def _recent(self, ring: np.ndarray, minutes: int) -> np.ndarray:
        k = min(minutes, HISTORY_MIN)
        idx = (self._col - k + np.arange(k)) % HISTORY_MIN
        return ring[:, idx]


def _ewm_clipped(var: np.ndarray, x: np.ndarray, half_life_min: float) -> np.ndarray:
    """One step of an exponentially weighted variance of ``x`` clipped at CLIP_SIGMAS deviations."""
    a = 1.0 - 0.5 ** (1.0 / half_life_min)
    ok = np.isfinite(x)
    have = np.isfinite(var)
    with np.errstate(invalid="ignore"):
        lim = CLIP_SIGMAS * np.sqrt(np.where(have, var, np.inf))
        xc = np.clip(x, -lim, lim)
    new = np.where(have, (1 - a) * var + a * xc * xc, x * x)
    return np.where(ok, new, var)


def sqrt_minutes(window_s: float) -> float:
    """How a 1-minute scale grows to a window of ``window_s`` seconds (random-walk scaling)."""
    return math.sqrt(max(window_s, 1.0) / 60.0)
