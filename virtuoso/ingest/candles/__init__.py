"""Real 1-minute candles as a Bybit v5 message stream: the real-candle background for evaluation.

Public API::

    load_real(data_dir=None, symbols=None) -> {symbol: SymbolCandles}   # ../shared/data/real by default
    split_days(data) -> {"calibration": [day start ms], "held_out": [...]}
    default_data_dir() -> Path
    CandleMarket(data, start_ms=, end_ms=, seed=0, symbols=None, episodes_per_hour=0.0, scheduled=(), ...)
        .run(duration_s=None) -> Iterator[(message, ts_ms)]   .labels   .profiles   .symbols_info()
    real_window(day_start_ms, warmup_s) -> (stream start ms, scored from ms, end ms)
"""

from virtuoso.ingest.candles.bridge import CandleMarket
from virtuoso.ingest.candles.data import (
    DAY_MS,
    PARTS,
    SymbolCandles,
    available_symbols,
    default_data_dir,
    load_real,
    split_days,
    whole_days,
)


def real_window(day_start_ms: int, warmup_s: float) -> tuple[int, int, int]:
    """The stream window for scoring one day: it starts ``warmup_s`` earlier (history for the
    baselines, never scored) and ends with the day."""
    return day_start_ms - int(warmup_s * 1000), day_start_ms, day_start_ms + DAY_MS


__all__ = [
    "DAY_MS",
    "PARTS",
    "CandleMarket",
    "SymbolCandles",
    "available_symbols",
    "default_data_dir",
    "load_real",
    "real_window",
    "split_days",
    "whole_days",
]
