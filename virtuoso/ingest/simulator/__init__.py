"""Simulated Bybit v5 market: labelled manipulation-like episodes and hard negatives, deterministic by seed.

Public API (other parts code against these names)::

    SimMarket(symbols, *, seed, start_ms, episodes_per_hour=0.5, market_moves_per_day=3.0, scheduled=(),
              quiet=False, book_symbols=None, ...)
        .run(duration_s) -> Iterator[(message, ts_ms)]     .labels -> list[Episode]   .profiles
    SimulatorSource(settings, clock)                       # a virtuoso.ingest.base.Source
    Episode, EPISODE_KINDS, NEGATIVE_KINDS, AMPLITUDE_RANGES, DURATION_RANGES_S
    labels_to_json / load_labels                           # the ``FILE.labels.json`` format
    profile_for(symbol, seed=None), simulated_universe(n=500), evaluation_symbols(seed),
    tier_of(turnover_usd_day), TIER_NAMES                  # per-symbol markets and liquidity tiers
"""

from virtuoso.ingest.simulator.episodes import (
    AMPLITUDE_RANGES,
    DURATION_RANGES_S,
    EPISODE_KINDS,
    MARKET_WIDE,
    NEGATIVE_KINDS,
    Episode,
)
from virtuoso.ingest.simulator.labels import labels_from_json, labels_to_json, load_labels
from virtuoso.ingest.simulator.market import SimMarket
from virtuoso.ingest.simulator.profiles import (
    TIER_NAMES,
    SymbolProfile,
    evaluation_symbols,
    profile_for,
    simulated_universe,
    tier_of,
)
from virtuoso.ingest.simulator.source import SimulatorSource

__all__ = [
    "AMPLITUDE_RANGES",
    "DURATION_RANGES_S",
    "EPISODE_KINDS",
    "MARKET_WIDE",
    "NEGATIVE_KINDS",
    "TIER_NAMES",
    "Episode",
    "SimMarket",
    "SimulatorSource",
    "SymbolProfile",
    "evaluation_symbols",
    "labels_from_json",
    "labels_to_json",
    "load_labels",
    "profile_for",
    "simulated_universe",
    "tier_of",
]
