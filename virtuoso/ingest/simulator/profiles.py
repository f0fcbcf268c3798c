"""Per-symbol markets for the simulator: levels, liquidity tier, tails, noise, factor loading.

Each symbol's market is drawn from ``(seed, symbol)`` (:func:`profile_for`), so the same seed and
name always simulate the same way whatever else is on the watchlist. What is drawn:

- **liquidity**: daily turnover. The five default majors sit near their early-2025 Bybit levels,
  a name of :func:`simulated_universe` gets its rank's turnover (Zipf-like, ~$4B/day at rank 1 down
  to ~$4M/day at rank 500), any other name a hash-derived one ($4M-$400M); the seed jitters it.
  Trade rate, trade sizes, open interest and OI noise follow from it.
- **tails**: Student-t shocks (``t_df`` 2.5-6), Pareto trade sizes (``size_alpha`` 1.3-2.0).
- **noise**: idiosyncratic volatility (thin coins more), OI noise with an hourly sd of ~0.6 % for
  BTC to ~2.4 % for thin coins (0.5-2.5 %), an intraday cycle of its own amplitude and peak hour.
- **factor**: BTC leads the market factor (beta 1, no lag); every other symbol follows it with
  a beta of 1.0-1.8 and a lag of 1-2 s.
- **prints**: the share of orders that sweep the book (one order printed as many trades at one
  millisecond) and block prints per hour (some flagged ``BT``).

``seed=None`` gives the nominal profile (no jitter, no random draws): what tests and the
dashboard use as a symbol's typical level.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# Liquidity tiers by daily turnover (USD). Documented in docs/simulator.md and docs/detection.md.
TIERS: tuple[tuple[str, float], ...] = (
    ("T1 major", 1.0e9),  # >= $1B/day
    ("T2 large", 1.0e8),  # $100M-1B
    ("T3 mid", 2.0e7),  # $20M-100M
    ("T4 thin", 0.0),  # < $20M
)
TIER_NAMES = tuple(name for name, _ in TIERS)
TOP_TURNOVER_USD = 4.0e9  # rank 1 of the universe
BOTTOM_TURNOVER_USD = 4.0e6  # rank 500
UNIVERSE_SIZE = 500


def tier_of(turnover_usd_day: float) -> str:
    """The liquidity tier of a symbol trading ``turnover_usd_day`` a day."""
    for name, floor in TIERS:
        if turnover_usd_day >= floor:
            return name
    return TIERS[-1][0]


@dataclass(frozen=True)
class SymbolProfile:
    """One simulated symbol's market (sizes in base units, money in USD, rates per second)."""

    symbol: str
    price: float  # starting price
    tick: float  # price step of the book and of trade prices
    qty_step: float  # size step of trades, liquidations and book levels
    turnover_usd_day: float  # average daily turnover the trade flow is calibrated to
    daily_vol: float  # sd of a calm day's log return, factor and own noise together
    idio_daily_vol: float  # the symbol's own part
    beta: float  # loading on the BTC-led market factor
    lag_ms: int  # how late it follows the factor
    trades_per_s: float  # printed trades per second at average activity
    size_alpha: float  # Pareto tail index of trade sizes
    size_min_usd: float  # Pareto scale (the smallest ordinary trade)
    t_df: float  # Student-t degrees of freedom of price shocks
    sweep_share: float  # share of orders that sweep several levels at one millisecond
    sweep_mean_trades: float  # mean prints per sweep
    blocks_per_hour: float  # large single prints
    block_bt_share: float  # share of them flagged BT (Bybit block trades)
    oi_usd: float  # starting open interest
    oi_hourly_sd: float  # sd of the open-interest random walk over an hour (fraction)
    season_amp: float  # intraday activity cycle: 1 +- this
    season_peak_h: float  # UTC hour of the busiest time
    vol_of_vol: float  # sd of the slow log-volatility drift
    jumps_per_day: float  # the symbol's own price jumps (Student-t sizes, ~3 one-minute sds)

    @property
    def price_decimals(self) -> int:
        return _decimals(self.tick)

    @property
    def qty_decimals(self) -> int:
        return _decimals(self.qty_step)

    @property
    def tier(self) -> str:
        return tier_of(self.turnover_usd_day)

    @property
    def median_notional_usd(self) -> float:
        return self.size_min_usd * 2.0 ** (1.0 / self.size_alpha)


# symbol: price, tick, qty_step, turnover/day, idio daily vol, beta, OI USD
_KNOWN: dict[str, tuple[float, float, float, float, float, float, float]] = {
    "BTCUSDT": (90_000.0, 0.1, 0.001, 4.0e9, 0.006, 1.0, 5.0e9),
    "ETHUSDT": (3_000.0, 0.01, 0.01, 2.5e9, 0.018, 1.15, 2.5e9),
    "SOLUSDT": (150.0, 0.01, 0.1, 1.2e9, 0.025, 1.4, 8.0e8),
    "XRPUSDT": (2.0, 0.0001, 1.0, 6.0e8, 0.03, 1.3, 5.0e8),
    "DOGEUSDT": (0.2, 0.00001, 1.0, 4.0e8, 0.03, 1.5, 4.0e8),
}
FACTOR_DAILY_VOL = 0.024  # the BTC-led factor: BTC's own daily vol is this plus a little idio
SIZE_CAP = 2_000.0  # a single ordinary trade is at most this many times the Pareto scale


def _decimals(step: float) -> int:
    return max(0, -int(math.floor(math.log10(step) + 1e-9)))


def _hash_u(symbol: str) -> tuple[float, float, float]:
    h = int.from_bytes(hashlib.blake2b(symbol.encode(), digest_size=8).digest(), "big")
    return (h & 0xFFFF) / 0xFFFF, ((h >> 16) & 0xFFFF) / 0xFFFF, ((h >> 32) & 0xFFFF) / 0xFFFF


def pareto_mean(alpha: float, cap: float = SIZE_CAP) -> float:
    """Mean of ``min(X, cap)`` for a Pareto(alpha) X with scale 1 (what the size draw averages)."""
    return (alpha - cap ** (1.0 - alpha)) / (alpha - 1.0)


def universe_turnover(rank: int) -> float:
    """Nominal daily turnover of the universe's ``rank``-th symbol (1-based): Zipf-like."""
    k = math.log(TOP_TURNOVER_USD / BOTTOM_TURNOVER_USD) / math.log(UNIVERSE_SIZE)
    return TOP_TURNOVER_USD * max(1, rank) ** (-k)


def _levels(symbol: str) -> tuple[float, float, float, float]:
    """(price, tick, qty_step, hash-derived turnover) of a symbol that is not a known major."""
    u1, _, u3 = _hash_u(symbol)
    lo, hi = (-4.0, -1.5) if symbol.startswith("1000") else (-2.0, 3.0)
    price = 10 ** (lo + (hi - lo) * u1)
    mag = math.floor(math.log10(price))
    tick = 10.0 ** (mag - 4)
    qty_step = 10.0 ** max(-3, math.floor(math.log10(5.0 / price)))
    price = round(price / tick) * tick
    turnover = math.exp(math.log(4.0e6) + u3 * math.log(100.0))
    return price, tick, qty_step, turnover


def profile_for(symbol: str, seed: int | None = None) -> SymbolProfile:
    """The market of ``symbol``: nominal when ``seed`` is None, else randomised from ``(seed, symbol)``."""
    return _profile(symbol, seed)


@lru_cache(maxsize=4096)
def _profile(symbol: str, seed: int | None) -> SymbolProfile:
    known = _KNOWN.get(symbol)
    rank = _universe_ranks().get(symbol)
    if known is not None:
        price, tick, qty_step, turnover, idio, beta, oi_usd = known
    else:
        price, tick, qty_step, turnover = _levels(symbol)
        if rank is not None:
            turnover = universe_turnover(rank)
        thin = min(1.0, max(0.0, math.log(TOP_TURNOVER_USD / turnover) / math.log(1_000.0)))
        idio, beta, oi_usd = 0.02 + 0.045 * thin, 1.35, 0.7 * turnover
    if seed is None:
        rnd = None
    else:
        digest = hashlib.blake2b(symbol.encode(), digest_size=8).digest()
        rnd = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, *digest])))

    def draw(lo: float, hi: float, nominal: float) -> float:
        return nominal if rnd is None else float(rnd.uniform(lo, hi))

    def jitter(x: float, sd: float) -> float:
        return x if rnd is None else x * math.exp(float(rnd.normal(0.0, sd)))

    turnover = jitter(turnover, 0.2)
    is_btc = symbol == "BTCUSDT"
    if known is None:
        beta = draw(1.0, 1.8, beta)
        idio = jitter(idio, 0.2)
        oi_usd = turnover * draw(0.4, 1.5, 0.7)
    else:
        beta = beta if is_btc else jitter(beta, 0.08)
        idio, oi_usd = jitter(idio, 0.1), jitter(oi_usd, 0.1)
    lag_ms = 0 if is_btc else int(round(draw(1_000.0, 2_000.0, 1_500.0), -2))
    trades_per_s = max(0.05, 30.0 * (turnover / TOP_TURNOVER_USD) ** 0.7)
    alpha = draw(1.3, 2.0, 1.6)
    sweep_share = draw(0.01, 0.05, 0.03)
    sweep_mean = draw(4.0, 10.0, 6.0)
    # Sizes are calibrated so the printed flow averages the turnover (sweeps print several trades per order).
    mean_trade_usd = turnover / 86_400.0 / trades_per_s
    size_min = mean_trade_usd / pareto_mean(alpha)
    oi_sd = min(0.025, max(0.005, jitter(0.006 * (TOP_TURNOVER_USD / turnover) ** 0.2, 0.15)))
    daily_vol = math.sqrt((beta * FACTOR_DAILY_VOL) ** 2 + idio**2)
    return SymbolProfile(
        symbol=symbol,
        price=price,
        tick=tick,
        qty_step=qty_step,
        turnover_usd_day=turnover,
        daily_vol=daily_vol,
        idio_daily_vol=idio,
        beta=beta,
        lag_ms=lag_ms,
        trades_per_s=trades_per_s,
        size_alpha=alpha,
        size_min_usd=size_min,
        t_df=draw(2.5, 6.0, 4.0),
        sweep_share=sweep_share,
        sweep_mean_trades=sweep_mean,
        blocks_per_hour=draw(0.3, 2.0, 1.0),
        block_bt_share=draw(0.3, 0.8, 0.5),
        oi_usd=oi_usd,
        oi_hourly_sd=oi_sd,
        season_amp=draw(0.25, 0.6, 0.45),
        season_peak_h=draw(13.0, 16.0, 15.0),
        vol_of_vol=draw(0.25, 0.5, 0.35),
        jumps_per_day=draw(10.0, 40.0, 20.0),
    )


# ---------------------------------------------------------------------------------------- universe

# Names of real linear USDT perpetuals, roughly by liquidity; the universe fills up beyond them
# with generated names of the same look.
_LISTED = (
    "BTC ETH SOL XRP DOGE SUI BNB ADA 1000PEPE LINK AVAX LTC WIF TRX ENA BCH DOT TON NEAR HYPE "
    "APT ARB OP FIL AAVE UNI WLD TIA INJ SEI ONDO FET RENDER ATOM ETC XLM ORDI JUP TAO HBAR "
    "1000BONK POPCAT VIRTUAL TRUMP KAITO PENGU FARTCOIN MOODENG GOAT PNUT ICP STX IMX GALA SAND "
    "MANA AXS APE CRV LDO PENDLE ETHFI EIGEN STRK ZK ZRO BLAST W JTO PYTH RUNE THETA ALGO VET "
    "EGLD FLOW KAS MINA ROSE CFX KAVA ZIL IOTA NEO QTUM XTZ EOS DYDX GMX SNX COMP MKR YFI SUSHI "
    "1INCH BAL ENS CHZ ENJ LRC MASK BLUR MEME 1000SATS ORCA RAY BOME SLERP MEW BRETT TURBO NOT "
    "DOGS HMSTR CATI NEIRO 1000FLOKI SHIB1000 LAYER XMR ZEC DASH BERA IP ANIME S MOVE USUAL ME "
    "VANA BIO COOKIE SONIC AIXBT GRASS DRIFT CETUS DEEP AERO MORPHO SAFE OM JASMY AR GRT CAKE "
    "CELO SKL ANKR STORJ BAT ZRX ONT IOST RSR CELR DENT HOT ONE KNC SXP AUDIO RVN WOO SSV"
).split()
_SYLLABLES = ("ka", "zo", "ri", "na", "lu", "ve", "xa", "mi", "to", "qu", "fy", "de", "ol", "br", "sy",
              "pe", "mo", "ra", "ti", "nu", "ex", "go", "la", "vi", "cr", "zen", "ark", "fi", "um", "po")


@lru_cache(maxsize=1)
def _universe_ranks() -> dict[str, int]:
    return {s: i + 1 for i, s in enumerate(_universe_names(UNIVERSE_SIZE))}


@lru_cache(maxsize=8)
def _universe_names(n: int) -> tuple[str, ...]:
    names = [f"{b}USDT" for b in _LISTED]
    rng = np.random.Generator(np.random.PCG64(20250106))  # fixed: the universe is part of the simulator
    seen = set(names)
    while len(names) < n:
        base = "".join(_SYLLABLES[int(i)] for i in rng.integers(0, len(_SYLLABLES), int(rng.integers(2, 4))))
        base = base.upper()[:8]
        if rng.random() < 0.06:
            base = "1000" + base
        sym = f"{base}USDT"
        if len(base) >= 3 and sym not in seen:
            seen.add(sym)
            names.append(sym)
    return tuple(names[:n])


def simulated_universe(n: int = UNIVERSE_SIZE) -> list[str]:
    """``n`` plausible linear USDT perpetual names, most liquid first (turnover ~$4B down to ~$4M/day).

    The first ones are real names (BTC, ETH, SOL, XRP, DOGE, ...); beyond the listed names the rest
    are generated. Each name's nominal turnover is :func:`universe_turnover` of its rank (for
    ``n`` beyond 500 the tail keeps thinning).
    """
    if n <= 0:
        return []
    if n > UNIVERSE_SIZE:
        return list(_universe_names(n))
    return list(_universe_names(UNIVERSE_SIZE)[:n])


def evaluation_symbols(seed: int, per_tier: int = 2) -> list[str]:
    """A watchlist spread over the liquidity tiers: BTCUSDT (the factor leader) plus ``per_tier``
    names of the universe drawn from each tier by ``seed``."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, 77])))
    names = simulated_universe()
    by_tier: dict[str, list[str]] = {t: [] for t in TIER_NAMES}
    for s in names[1:]:
        by_tier[tier_of(profile_for(s).turnover_usd_day)].append(s)
    out = ["BTCUSDT"]
    for t in TIER_NAMES:
        pool = by_tier[t]
        k = min(per_tier, len(pool))
        out += [pool[int(i)] for i in sorted(rng.choice(len(pool), k, replace=False))]
    return out
