"""Per-symbol levels for the simulator: price, tick, lot, volatility, activity and open interest.

Known majors get hand-set levels close to early-2025 Bybit linear perpetuals; any other symbol
gets a deterministic level derived from a hash of its name, so the same watchlist always
simulates the same way.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class SymbolProfile:
    """Static parameters of one simulated symbol (all sizes in base units, money in USD)."""

    symbol: str
    price: float  # starting price
    tick: float  # price step of the book and of trade prices
    qty_step: float  # size step of trades, liquidations and book levels
    daily_vol: float  # standard deviation of a one-day log return (calm, before clustering)
    trades_per_s: float  # mean trade rate at average activity
    median_notional_usd: float  # median trade size in USD (lognormal)
    oi_usd: float  # starting open interest in USD

    @property
    def price_decimals(self) -> int:
        return _decimals(self.tick)

    @property
    def qty_decimals(self) -> int:
        return _decimals(self.qty_step)


_KNOWN: dict[str, tuple[float, float, float, float, float, float, float]] = {
    # symbol: price, tick, qty_step, daily_vol, trades_per_s, median_notional_usd, oi_usd
    "BTCUSDT": (90_000.0, 0.1, 0.001, 0.025, 30.0, 2_500.0, 5.0e9),
    "ETHUSDT": (3_000.0, 0.01, 0.01, 0.035, 22.0, 1_500.0, 2.5e9),
    "SOLUSDT": (150.0, 0.01, 0.1, 0.045, 14.0, 800.0, 8.0e8),
    "XRPUSDT": (2.0, 0.0001, 1.0, 0.05, 10.0, 600.0, 5.0e8),
    "DOGEUSDT": (0.2, 0.00001, 1.0, 0.055, 9.0, 500.0, 4.0e8),
}


def _decimals(step: float) -> int:
    return max(0, -int(math.floor(math.log10(step) + 1e-9)))


def profile_for(symbol: str) -> SymbolProfile:
    """The profile of ``symbol``: hand-set for majors, hash-derived (but stable) for the rest."""
    known = _KNOWN.get(symbol)
    if known is not None:
        return SymbolProfile(symbol, *known)
    h = int.from_bytes(hashlib.blake2b(symbol.encode(), digest_size=8).digest(), "big")
    u1, u2 = (h & 0xFFFF) / 0xFFFF, ((h >> 16) & 0xFFFF) / 0xFFFF
    price = 10 ** (-2.0 + 5.0 * u1)  # 0.01 .. 1000
    mag = math.floor(math.log10(price))
    tick = 10.0 ** (mag - 4)
    qty_step = 10.0 ** max(-3, math.floor(math.log10(5.0 / price)))
    price = round(price / tick) * tick
    return SymbolProfile(
        symbol=symbol,
        price=price,
        tick=tick,
        qty_step=qty_step,
        daily_vol=0.05 + 0.03 * u2,
        trades_per_s=6.0,
        median_notional_usd=400.0,
        oi_usd=1.5e8,
    )
