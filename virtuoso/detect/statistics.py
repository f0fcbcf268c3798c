"""The statistics the detectors judge, one definition for the live runner and the backtest.

Each statistic reads one window of every symbol (a :class:`Window` of arrays: one value per symbol
live, one per symbol and minute in the backtest) in units of the symbol's own usual (:class:`Scales`),
and is then judged against that symbol's own history of it (:mod:`virtuoso.detect.calibration`).
``STATS`` lists them with the window each reads and how its tail is modelled.

- ``price``: the return after the market's share is taken out, in multiples of the symbol's
  volatility over the window.
- ``volume``: the log of traded value (block trades and the window's largest print left out, so
  one print cannot make a spike) over the usual for the window, less what the price activity of
  the window explains (a busy minute of a real move trades more: that is the price move's reading)
  and less what the rest of the market traded more.
- ``oi``: the rise of open interest in multiples of its usual change over the window.
- ``divergence``: open interest and price moving against each other, the geometric mean of both
  legs in their own units.
- ``pump``: a rise bought on heavy volume, the geometric mean of the rise (in sigmas) and the
  excess volume, scaled down when takers are not buying.
- ``liquidation``: the log of liquidations over the usual, less the market's, scaled down unless
  price moved with them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from virtuoso.detect.calibration import XI_MAX, TailModel
from virtuoso.domain.alerts import AlertKind

RANGE_UNIT = 2.0  # a window's high-low range is about this many of its sigmas on a quiet market
BUY_SHARE_NEUTRAL = 0.5
BUY_SHARE_FULL = 0.6  # at this taker buy share and above a rise counts fully as bought
IMPACT_SIGMAS = 2.0  # liquidations count fully with a 5-minute move of this many sigmas


class Scales(NamedTuple):
    """A symbol's usual behaviour (arrays over symbols; see :mod:`virtuoso.detect.baselines`)."""

    sigma_1m_pct: Any
    volume_per_s: Any
    oi_sigma_1m_pct: Any
    liq_per_min: Any


class Window(NamedTuple):
    """What happened over one window, per symbol (USD unless said otherwise)."""

    seconds: int
    ret_pct: Any  # price change, %
    resid_pct: Any  # the same with the market's share taken out, %
    turnover: Any  # traded value without block trades and without the largest print
    range_pct: Any  # high-low range of the (robust) price, % of the low
    buy: Any  # taker buy value
    sell: Any  # taker sell value
    oi_chg_pct: Any  # open interest change, %
    liq: Any  # liquidated value
    liq_long: Any  # of which longs
    volume_market: Any  # the other symbols' volume reading (log ratio), or NaN
    liq_market: Any  # the other symbols' liquidation reading (log ratio), or NaN


@dataclass(frozen=True, slots=True)
class StatSpec:
    name: str
    kind: AlertKind
    window_s: int
    model: TailModel


def _spec(kind: AlertKind, family: str, window_s: int) -> StatSpec:
    body_xi, tail_xi = TAIL_SHAPES[family]
    xi_max = LOG_RATIO_XI_MAX if family in LOG_RATIO_FAMILIES else XI_MAX
    return StatSpec(f"{family}_{window_s}", kind, window_s,
                    TailModel(body_xi=min(body_xi, xi_max), tail_xi=min(tail_xi, xi_max),
                              cluster_min=max(1.0, window_s / 60.0), xi_max=xi_max))


# (body, tail) shape priors per family. Price and volume: measured on real 1-minute candles
# (bench/calibrate_tails.py: the shape that carries six hours' body to the deep tail, upper quartile
# over 16 symbols and their 6-hour stretches, so a short history errs towards silence). The others
# have no real data behind them here: they take the price family's, whose readings are also in
# sigmas (divergence and pump are geometric means of such readings; liquidations are a log ratio,
# like volume, held to LOG_RATIO_XI_MAX below).
# Volume and liquidations are read as log ratios. The log of a heavy (Pareto-like) tail has a light,
# exponential one, so their tail shape is held near zero: a shape measured on a few sparse hours
# (liquidations are zero most minutes) and extrapolated as a power law in log space would put the
# alarm at tens of thousands of times the usual amount, where no cascade reaches.
LOG_RATIO_FAMILIES = ("volume", "liquidation")
LOG_RATIO_XI_MAX = 0.1
TAIL_SHAPES = {
    "price": (0.18, 0.4),
    "volume": (-0.03, 0.1),
    "oi": (0.18, 0.4),
    "divergence": (0.15, 0.4),
    "pump": (0.15, 0.4),
    "liquidation": (0.05, 0.1),
}

STATS: tuple[StatSpec, ...] = (
    *(_spec(AlertKind.PRICE_MOVE, "price", w) for w in (60, 300, 900)),
    *(_spec(AlertKind.VOLUME_SPIKE, "volume", w) for w in (60, 300)),
    *(_spec(AlertKind.OI_SURGE, "oi", w) for w in (60, 300, 900, 1800)),
    *(_spec(AlertKind.OI_PRICE_DIVERGENCE, "divergence", w) for w in (300, 900)),
    *(_spec(AlertKind.PUMP_AND_DUMP, "pump", w) for w in (30, 60, 300)),
    _spec(AlertKind.LIQUIDATION_CASCADE, "liquidation", 60),
)
WINDOWS_S = tuple(sorted({s.window_s for s in STATS} | {300}))
STATS_BY_KIND: dict[AlertKind, tuple[StatSpec, ...]] = {
    k: tuple(s for s in STATS if s.kind is k) for k in dict.fromkeys(s.kind for s in STATS)
}


def sigma_over(scales: Scales, seconds: int) -> Any:
    """The symbol's volatility over ``seconds`` (random-walk scaling of the 1-minute one), %."""
    return scales.sigma_1m_pct * math.sqrt(seconds / 60.0)


def price_z(w: Window, scales: Scales) -> Any:
    """Signed market-adjusted return in sigmas of the window."""
    return w.resid_pct / sigma_over(scales, w.seconds)


def oi_z(w: Window, scales: Scales) -> Any:
    """Signed open-interest change in its own usual changes over the window."""
    return w.oi_chg_pct / (scales.oi_sigma_1m_pct * math.sqrt(w.seconds / 60.0))


def volume_ratio(w: Window, scales: Scales) -> Any:
    """Traded value over the usual for the window (NaN without a usual)."""
    return np.maximum(w.turnover, 0.0) / (scales.volume_per_s * w.seconds)


def price_activity(w: Window, scales: Scales) -> Any:
    """The window's range in units of a quiet window's range (at least 1)."""
    act = w.range_pct / (RANGE_UNIT * sigma_over(scales, w.seconds))
    return np.fmax(act, 1.0)


def buy_share(w: Window) -> Any:
    """Taker buy value over all taker value (NaN without trades)."""
    total = w.buy + w.sell
    return np.where(total > 0, w.buy / np.where(total > 0, total, 1.0), np.nan)


def volume_log_ratio(w: Window, scales: Scales) -> Any:
    """log(volume over usual), the reading other symbols' volume is compared in."""
    return np.log(volume_ratio(w, scales))


def price_stat(w: Window, scales: Scales) -> Any:
    return np.abs(price_z(w, scales))


def volume_stat(w: Window, scales: Scales) -> Any:
    lr = volume_log_ratio(w, scales) - np.log(price_activity(w, scales))
    return lr - _positive(w.volume_market)


def oi_stat(w: Window, scales: Scales) -> Any:
    return np.fmax(oi_z(w, scales), 0.0)


def divergence_stat(w: Window, scales: Scales) -> Any:
    """sqrt(OI leg x price leg) where they move apart: OI up and price down (shorts crowding in)
    or OI down and price up (shorts covering)."""
    zo, zp = oi_z(w, scales), price_z(w, scales)
    apart = np.fmax(-zo * zp, 0.0)
    return np.sqrt(apart)


def pump_stat(w: Window, scales: Scales) -> Any:
    """sqrt(rise in sigmas x excess volume ratio), times how one-sided the buying is."""
    rise = np.fmax(price_z(w, scales), 0.0)
    market = np.exp(_positive(w.volume_market))
    excess = np.fmax(volume_ratio(w, scales) / market - 1.0, 0.0)
    share = buy_share(w)
    bought = np.clip((share - BUY_SHARE_NEUTRAL) / (BUY_SHARE_FULL - BUY_SHARE_NEUTRAL), 0.0, 1.0)
    bought = np.where(np.isfinite(share), bought, 1.0)  # no taker sides known: the rise decides
    return np.sqrt(rise * excess) * bought


def liquidation_log_ratio(w: Window, scales: Scales) -> Any:
    """log(1 + liquidations over the usual minute's, scaled to the window)."""
    usual = np.fmax(scales.liq_per_min * w.seconds / 60.0, 1e-9)
    return np.log1p(np.fmax(w.liq, 0.0) / usual)


def liquidation_stat(w: Window, impact: Window, scales: Scales) -> Any:
    """The liquidation reading less the market's, scaled by how far price moved with it (5 min)."""
    lr = liquidation_log_ratio(w, scales) - _positive(w.liq_market)
    moved = np.clip(np.abs(price_z(impact, scales)) / IMPACT_SIGMAS, 0.0, 1.0)
    return np.fmax(lr, 0.0) * np.where(np.isfinite(moved), moved, 0.0)


def _positive(x: Any) -> Any:
    """x where it is a positive number, else 0 (NaN: no reading from the other symbols)."""
    return np.where(x > 0, x, 0.0)


def compute(spec: StatSpec, windows: dict[int, Window], scales: Scales) -> Any:
    """The statistic ``spec`` for every symbol (NaN where a scale is not known yet)."""
    w = windows[spec.window_s]
    family = spec.name.rsplit("_", 1)[0]
    if family == "price":
        return price_stat(w, scales)
    if family == "volume":
        return volume_stat(w, scales)
    if family == "oi":
        return oi_stat(w, scales)
    if family == "divergence":
        return divergence_stat(w, scales)
    if family == "pump":
        return pump_stat(w, scales)
    if family == "liquidation":
        return liquidation_stat(w, windows[300], scales)
    raise KeyError(spec.name)
