"""Labelled episodes: what the simulator injects, and how each one bends the market second by second.

An :class:`Episode` is the label (kind, symbol, start, duration, amplitude). :func:`effect` turns
it into per-second modifiers of the baseline market (drift, volatility, activity, order-flow
bias, open-interest change, liquidations). It is pure: the same episode and second always give
the same modifiers, so scheduled and random episodes behave identically.

Amplitude meaning per kind (``AMPLITUDE_RANGES`` are the ranges random episodes draw from;
kinds marked *signed* draw a random sign, a negative amplitude means the opposite direction):

=====================  ==========================================================================
pump_and_dump          peak price rise as a fraction (0.10 = +10 %); ~80 % of it is retraced
oi_surge               open-interest rise as a fraction, price flat
volume_spike           volume multiple of the baseline (10 = ten times)
price_move             *signed* price change as a fraction, kept after the episode
oi_price_divergence    *signed* OI change; > 0: OI up while price drifts down (a/6),
                       < 0: OI down while price rises (|a|/3, short covering)
liquidation_cascade    *signed* price impact; < 0: longs liquidated (price falls), > 0: shorts
market_move            *signed* common price change; each symbol moves ``amplitude * beta``
volatile_normal        volatility multiple (hard negative: no manipulation, just a busy hour)
funding_time           volatility and volume multiple around a funding settlement (00/08/16 UTC)
trend_day              *signed* organic drift over many hours (hard negative)
listing_day            volume multiple on a quiet price for hours, OI building (hard negative)
block_print            one large print (size in typical minutes of turnover; hard negative)
=====================  ==========================================================================
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

EPISODE_KINDS = (
    "oi_surge",
    "volume_spike",
    "price_move",
    "oi_price_divergence",
    "pump_and_dump",
    "liquidation_cascade",
)
# Hard negatives: labelled, but not manipulation. Market-wide ones have symbol "*".
NEGATIVE_KINDS = ("market_move", "volatile_normal", "funding_time", "trend_day", "listing_day", "block_print")
# Hard negatives that are a symbol's background for hours: manipulation may happen during them.
BACKGROUND_KINDS = frozenset({"trend_day", "listing_day"})
MARKET_WIDE = "*"

# (low, high) of |amplitude|; random episodes draw log-uniformly in this range (raised to the
# symbol's own noise floor, see planner.py).
AMPLITUDE_RANGES: dict[str, tuple[float, float]] = {
    "pump_and_dump": (0.02, 0.30),
    "oi_surge": (0.02, 0.25),
    "volume_spike": (3.0, 40.0),
    "price_move": (0.01, 0.15),
    "oi_price_divergence": (0.02, 0.20),
    "liquidation_cascade": (0.015, 0.15),
    "market_move": (0.01, 0.10),
    "volatile_normal": (1.5, 4.0),
    "funding_time": (1.3, 3.0),
    "trend_day": (0.03, 0.20),
    "listing_day": (3.0, 10.0),
    "block_print": (0.5, 15.0),
}
SIGNED_KINDS = frozenset({"price_move", "oi_price_divergence", "liquidation_cascade", "market_move", "trend_day"})
# (low, high) duration in seconds; uniform.
DURATION_RANGES_S: dict[str, tuple[int, int]] = {
    "pump_and_dump": (120, 1_800),
    "oi_surge": (60, 600),
    "volume_spike": (30, 600),
    "price_move": (20, 300),
    "oi_price_divergence": (180, 1_800),
    "liquidation_cascade": (20, 300),
    "market_move": (120, 1_200),
    "volatile_normal": (1_800, 10_800),
    "funding_time": (600, 600),
    "trend_day": (6 * 3_600, 20 * 3_600),
    "listing_day": (6 * 3_600, 24 * 3_600),
    "block_print": (1, 1),
}
# A share of OI surges are slow "stealth" builds: 15-30 min, small to mid amplitude.
STEALTH_OI_SHARE = 0.4
STEALTH_OI_DURATION_S = (900, 1_800)
STEALTH_OI_AMPLITUDE = (0.02, 0.10)

PUMP_END = 0.35  # fraction of a pump_and_dump spent rising
DUMP_END = 0.60  # ... and by when the dump is over
RETRACE = 0.80  # share of the rise the dump gives back


@dataclass(frozen=True)
class Episode:
    """One labelled episode; ``symbol`` is ``"*"`` for market-wide ones."""

    kind: str
    symbol: str
    start_ms: int
    duration_s: int
    amplitude: float

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.duration_s * 1000

    @property
    def is_negative(self) -> bool:
        """Hard negatives are labelled but should raise no symbol flag."""
        return self.kind in NEGATIVE_KINDS

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "end_ms": self.end_ms}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Episode":
        return cls(str(d["kind"]), str(d["symbol"]), int(d["start_ms"]), int(d["duration_s"]), float(d["amplitude"]))


# Per-second modifiers: (drift_log, vol_mult, volume_mult, buy_bias, oi_log_delta, liq_frac, liq_longs)
Mods = tuple[float, float, float, float, float, float, bool]
NEUTRAL: Mods = (0.0, 1.0, 1.0, 0.0, 0.0, 0.0, True)


def _ss(x: float) -> float:
    """Smoothstep on [0, 1]."""
    x = 0.0 if x < 0.0 else 1.0 if x > 1.0 else x
    return x * x * (3.0 - 2.0 * x)


def _trap(u: float, ramp: float) -> float:
    """1 in the middle, linear ramps of width ``ramp`` at both ends."""
    return max(0.0, min(1.0, u / ramp, (1.0 - u) / ramp))


def _bell(u: float) -> float:
    return max(0.0, 4.0 * u * (1.0 - u))


def _sign(a: float) -> float:
    return -1.0 if a < 0 else 1.0


def price_path(kind: str, a: float, u: float, beta: float = 1.0) -> float:
    """Log-price offset the episode has added by fraction ``u`` of its duration."""
    if kind == "pump_and_dump":
        top = math.log1p(a)
        if u < PUMP_END:
            return top * (max(u, 0.0) / PUMP_END) ** 1.6
        return top * (1.0 - RETRACE * _ss((u - PUMP_END) / (DUMP_END - PUMP_END)))
    if kind == "price_move":
        return math.log1p(a) * _ss(u)
    if kind == "oi_price_divergence":
        return math.log1p(-a / 6.0 if a > 0 else -a / 3.0) * _ss(u)
    if kind == "liquidation_cascade":
        x = min(max(u, 0.0), 1.0)
        return math.log1p(a) * (1.0 - math.exp(-4.0 * x)) / (1.0 - math.exp(-4.0))
    if kind == "market_move":
        return math.log1p(a * beta) * _ss(u / 0.7)
    if kind == "trend_day":
        return math.log1p(a) * min(max(u, 0.0), 1.0)
    return 0.0


def oi_path(kind: str, a: float, u: float) -> float:
    """Log open-interest offset by fraction ``u`` (liquidations lower OI separately)."""
    if kind == "pump_and_dump":
        top = math.log1p(0.5 * a)
        if u < PUMP_END:
            return top * max(u, 0.0) / PUMP_END
        return top * (1.0 - 0.7 * _ss((u - PUMP_END) / (DUMP_END - PUMP_END)))
    if kind in ("oi_surge", "oi_price_divergence"):
        return math.log1p(a) * _ss(u)
    if kind == "funding_time":
        return math.log1p(-0.003) * _ss(u)
    if kind == "trend_day":
        return math.log1p(0.3 * abs(a)) * min(max(u, 0.0), 1.0)
    if kind == "listing_day":
        return math.log1p(0.03 * a) * min(max(u, 0.0), 1.0)
    return 0.0


def _liq_density(kind: str, a: float, u: float, beta: float) -> tuple[float, bool]:
    """(share of OI liquidated per unit of ``u``, True when longs are liquidated)."""
    if kind == "liquidation_cascade":
        total = min(0.25, 1.5 * abs(a))
        return total * 4.0 * math.exp(-4.0 * u) / (1.0 - math.exp(-4.0)), a < 0
    if kind == "market_move":
        x = u / 0.7
        if x >= 1.0:
            return 0.0, a * beta < 0
        return 0.15 * abs(a * beta) * 6.0 * x * (1.0 - x) / 0.7, a * beta < 0
    if kind == "pump_and_dump" and PUMP_END <= u < DUMP_END:
        return 0.1 * a / (DUMP_END - PUMP_END), True
    return 0.0, True


def _shape(kind: str, a: float, u: float) -> tuple[float, float, float]:
    """(volatility multiple, volume multiple, buy bias) at fraction ``u``."""
    if kind == "pump_and_dump":
        boost = 3.0 + 50.0 * a
        if u < PUMP_END:
            return 2.0, 1.0 + boost * (0.3 + 0.7 * u / PUMP_END), 0.25
        if u < DUMP_END:
            return 2.0, 1.0 + 0.8 * boost, -0.25
        return 1.5, 1.0 + 0.3 * boost * (1.0 - u) / (1.0 - DUMP_END), 0.0
    if kind == "volume_spike":
        t = _trap(u, 0.1)
        return 1.0 + min(2.0, 0.1 * (a - 1.0)) * t, 1.0 + (a - 1.0) * t, 0.0
    if kind == "price_move":
        return 1.5, 1.0 + 3.0 * _bell(u), 0.25 * _sign(a) * _bell(u)
    if kind == "oi_surge":
        return 1.1, 1.0 + 0.5 * _trap(u, 0.1), 0.0
    if kind == "oi_price_divergence":
        return 1.1, 1.0 + 0.3 * _trap(u, 0.1), 0.15 if a < 0 else -0.05
    if kind == "liquidation_cascade":
        return 2.5, 1.0 + 8.0 * math.exp(-3.0 * u), 0.3 * _sign(a)
    if kind == "market_move":
        return 1.5, 1.0 + 2.5 * _trap(u, 0.15), 0.2 * _sign(a) if u < 0.7 else 0.0
    if kind == "volatile_normal":
        t = _trap(u, 0.1)
        return 1.0 + (a - 1.0) * t, 1.0 + 0.4 * (a - 1.0) * t, 0.0
    if kind == "funding_time":
        b = _bell(u)
        return 1.0 + (a - 1.0) * b, 1.0 + (a - 1.0) * b, 0.0
    if kind == "trend_day":
        t = _trap(u, 0.05)
        return 1.1, 1.0 + 0.4 * t, 0.04 * _sign(a) * t
    if kind == "listing_day":
        t = _trap(u, 0.02)
        return 1.0 - 0.3 * t, 1.0 + (a - 1.0) * t, 0.0
    return 1.0, 1.0, 0.0


def effect(ep: Episode, k: int, beta: float = 1.0) -> Mods:
    """Modifiers for second ``k`` (0-based) of ``ep``; ``beta`` scales market-wide moves per symbol."""
    d = max(1, ep.duration_s)
    if k < 0 or k >= d:
        return NEUTRAL
    u0, u1, um = k / d, (k + 1) / d, (k + 0.5) / d
    kind, a = ep.kind, ep.amplitude
    drift = price_path(kind, a, u1, beta) - price_path(kind, a, u0, beta)
    oi = oi_path(kind, a, u1) - oi_path(kind, a, u0)
    dens, longs = _liq_density(kind, a, um, beta)
    vol, volume, bias = _shape(kind, a, um)
    return drift, vol, volume, bias, oi, dens / d, longs
