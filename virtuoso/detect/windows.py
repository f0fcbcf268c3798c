"""Reading the tape's windows for every symbol at once, with the market's share taken out.

:class:`WindowReader` turns the per-second :class:`~virtuoso.detect.tape.Tape` into one
:class:`~virtuoso.detect.statistics.Window` per window length (arrays over symbols), for the
statistics, plus the market-wide readings. ``budget_rates`` spreads the user's alert budget over the
statistics: each kind gets an equal share, split evenly over its windows (a union bound: the
windows of one kind cross together, so a kind's real rate is below its share).
"""

from __future__ import annotations

import numpy as np

from virtuoso.config import DetectionSettings
from virtuoso.detect import market_move
from virtuoso.detect.calibration import nan_warnings_off
from virtuoso.detect.market_factor import explained_residual, loo_median, loo_weighted_median
from virtuoso.detect.statistics import (
    STATS,
    STATS_BY_KIND,
    WINDOWS_S,
    Scales,
    Window,
    liquidation_log_ratio,
    sigma_over,
    volume_log_ratio,
)
from virtuoso.detect.tape import Tape
from virtuoso.domain.alerts import SYMBOL_KINDS

CRITICAL_SHARE = 0.1  # the critical budget is this share of the high one
RANGE_WINDOWS_S = (30, 60, 300)  # windows whose price range and largest print are read (volume, pump)
LIQUIDATION_WINDOWS_S = tuple(s.window_s for s in STATS if s.name.startswith("liquidation"))
LOW_WINDOW_S = 900  # "rise from the low" looks back this far


def budget_rates(th: DetectionSettings) -> dict[str, tuple[float, float, float]]:
    """(watch, high, critical) crossings per day for each statistic, from the alert budgets."""
    kinds = len(SYMBOL_KINDS)
    out = {}
    for spec in STATS:
        share = 1.0 / kinds / len(STATS_BY_KIND[spec.kind])
        high = th.high_per_day * share
        out[spec.name] = (th.watch_per_day * share, high, high * CRITICAL_SHARE)
    return out


def market_rates(th: DetectionSettings) -> dict[str, tuple[float, float, float]]:
    """The market-wide event gets one kind's share of the budgets, split over its windows."""
    share = 1.0 / len(SYMBOL_KINDS) / len(market_move.WINDOWS_S)
    high = th.high_per_day * share
    return {f"market_{w}": (th.watch_per_day * share, high, high * CRITICAL_SHARE) for w in market_move.WINDOWS_S}


class WindowReader:
    """Windows of one second, computed once and shared by every statistic."""

    def __init__(self, tape: Tape, scales: Scales, beta: np.ndarray, weights: np.ndarray) -> None:
        self.tape = tape
        self.scales = scales
        self.beta = beta
        self.weights = weights
        self._windows: dict[int, Window] | None = None
        self._market: dict[int, float] = {}
        self._rise: np.ndarray | None = None

    def _ret(self, seconds: int) -> np.ndarray:
        return np.log(self.tape.now("price") / self.tape.ago("price", seconds)) * 100.0

    def windows(self) -> dict[int, Window]:
        if self._windows is not None:
            return self._windows
        t = self.tape
        out: dict[int, Window] = {}
        for w in WINDOWS_S:
            ret = self._ret(w)
            others, everyone = loo_weighted_median(ret / self.beta, self.weights)
            oi = np.log(t.now("oi") / t.ago("oi", w)) * 100.0
            self._market[w] = everyone
            resid = explained_residual(ret, self.beta * others)
            turnover = t.change("turnover", w)
            if w in RANGE_WINDOWS_S:
                prices = t.window("price", w + 1)
                with nan_warnings_off():
                    lo = np.nanmin(prices, axis=1)
                    rng = (np.nanmax(prices, axis=1) / lo - 1.0) * 100.0
                    biggest = np.nanmax(t.window("print", w), axis=1)
                turnover = np.fmax(turnover - np.nan_to_num(biggest, nan=0.0), 0.0)
            else:
                rng = np.full(t.n, np.nan)
            base = Window(w, ret, resid, turnover, rng, t.change("buy", w), t.change("sell", w), oi,
                          t.change("liq", w), t.change("liq_long", w), np.full(t.n, np.nan), np.full(t.n, np.nan))
            # What the other symbols traded and had liquidated (only the windows that read it).
            if w in RANGE_WINDOWS_S:
                base = base._replace(volume_market=loo_median(volume_log_ratio(base, self.scales)))
            if w in LIQUIDATION_WINDOWS_S:
                base = base._replace(liq_market=loo_median(liquidation_log_ratio(base, self.scales)))
            out[w] = base
        self._windows = out
        return out

    def rise_from_low_pct(self) -> np.ndarray:
        """Price over its lowest of the last 15 minutes, %."""
        if self._rise is None:
            prices = self.tape.window("price", LOW_WINDOW_S + 1)
            with nan_warnings_off():
                self._rise = (self.tape.now("price") / np.nanmin(prices, axis=1) - 1.0) * 100.0
        return self._rise

    def market_move(self, seconds: int) -> tuple[float, int, int]:
        """(the market factor's move over ``seconds`` in %, symbols moving its way by two of their own
        sigmas, symbols with a price)."""
        windows = self.windows()
        move = self._market.get(seconds, np.nan)
        ret = windows[seconds].ret_pct
        have = np.isfinite(ret)
        z = ret / sigma_over(self.scales, seconds)
        moving = int(np.sum(have & (np.sign(ret) == np.sign(move)) & (np.abs(z) >= market_move.BREADTH_SIGMAS)))
        return float(move), moving, int(have.sum())

    def market_liquidations(self, seconds: int) -> float:
        return float(np.nansum(self.tape.change("liq", seconds)))
