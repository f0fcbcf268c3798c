"""The runs behind ``virtuoso evaluate``: one task per simulated seed or real day, in a process pool.

A task builds its market (a randomised :class:`SimMarket`, quiet or not, or a real-candle
:class:`CandleMarket` day), feeds every message through the real pipeline (parser -> market state
-> detection runner -> policy) and returns the alert lines, the labels, each symbol's liquidity
tier, the scored window and its own CPU time. Scoring happens in the parent
(:mod:`virtuoso.detect.evaluation`), so a task's result is small.
"""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Iterable, Sequence

from virtuoso.config import Settings
from virtuoso.detect.evaluation import Label, Line, labels_from_episodes, lines_from_alerts

SIM_START_MS = 1_736_121_600_000  # 2025-01-06 00:00 UTC
BACKGROUNDS = ("simulated", "quiet", "real", "real-planted")


@dataclass(frozen=True)
class RunSpec:
    """One run: ``background`` is simulated, quiet (simulated, nothing planted), real or real-planted."""

    background: str
    seed: int
    hours: float = 24.0
    episodes_per_hour: float = 0.5
    per_tier: int = 2
    symbols: tuple[str, ...] = ()  # empty: BTCUSDT + per_tier names of each tier (simulated), every file (real)
    market_moves_per_day: float = 3.0
    warmup_s: float = 3_600.0
    day_ms: int = 0  # real: the scored day
    data_dir: str = ""


@dataclass
class RunResult:
    spec: RunSpec
    lines: list[Line]
    labels: list[Label]
    tiers: dict[str, str]
    start_ms: int
    end_ms: int
    cpu_s: float
    messages: int
    extra: dict[str, Any] = field(default_factory=dict)


def pipeline_lines(messages: Iterable[tuple[dict[str, Any], int]], symbols: Sequence[str], settings: Settings,
                   simulated: bool) -> tuple[list[Line], int]:
    """Run ``(message, ts_ms)`` pairs through parse -> state -> detection -> bus; the alert lines and message count."""
    from virtuoso.alerting.bus import AlertBus
    from virtuoso.app.pipeline import Pipeline
    from virtuoso.detect.runner import DetectionRunner
    from virtuoso.domain.alerts import Alert
    from virtuoso.domain.clock import ManualClock
    from virtuoso.ingest.bybit.parse import BybitParser
    from virtuoso.state.market import MarketState
    from virtuoso.state.price_band import PriceBand

    state = MarketState(list(symbols), settings.state.retention_1s_s, settings.state.retention_1m_min)
    runner = DetectionRunner(settings.detection, settings.policy, list(symbols), simulated=simulated)
    bus, alerts = AlertBus(), []
    bus.subscribe_alerts("evaluate", alerts.extend)
    pipeline = Pipeline(BybitParser(), state, runner, bus, ManualClock(),
                        price_band=PriceBand(settings.state.price_band_pct))
    on_message = pipeline.on_message
    for msg, ts_ms in messages:
        on_message(msg, ts_ms * 1_000_000)
    pipeline.finish()
    return lines_from_alerts(a for a in alerts if isinstance(a, Alert)), pipeline.messages


@lru_cache(maxsize=2)
def _real(data_dir: str) -> tuple[dict[str, Any], dict[str, float]]:
    """The candles (loaded once per worker) and each symbol's calibration-part turnover (its tier)."""
    from virtuoso.ingest.candles import DAY_MS, load_real, split_days

    data = load_real(data_dir or None)
    cal = split_days(data)["calibration"]
    lo, hi = (cal[0], cal[-1] + DAY_MS) if cal else (None, None)
    return data, {s: sc.turnover_usd_day(lo, hi) for s, sc in data.items()}


def run_one(spec: RunSpec, settings: Settings) -> RunResult:
    """Build the market of ``spec``, run the pipeline on it, return what scoring needs."""
    started = time.process_time()
    if spec.background in ("simulated", "quiet"):
        from virtuoso.ingest.simulator import SimMarket, evaluation_symbols

        symbols = list(spec.symbols) or evaluation_symbols(spec.seed, spec.per_tier)
        market = SimMarket(symbols, seed=spec.seed, start_ms=SIM_START_MS, episodes_per_hour=spec.episodes_per_hour,
                           market_moves_per_day=spec.market_moves_per_day, quiet=spec.background == "quiet")
        end_ms = SIM_START_MS + int(spec.hours * 3_600_000)
        lines, n = pipeline_lines(market.run(spec.hours * 3600), symbols, settings, simulated=True)
        tiers = {p.symbol: p.tier for p in market.profiles}
        labels = labels_from_episodes(e for e in market.labels if e.start_ms < end_ms)
        return RunResult(spec, lines, labels, tiers, SIM_START_MS, end_ms, time.process_time() - started, n)
    from virtuoso.ingest.candles import CandleMarket, real_window

    data, turnover = _real(spec.data_dir)
    start, scored_from, end = real_window(spec.day_ms, spec.warmup_s)
    end = min(end, scored_from + int(spec.hours * 3_600_000))
    names = [s for s in (spec.symbols or tuple(data)) if s in data]
    market = CandleMarket(data, start_ms=start, end_ms=end, seed=spec.seed, symbols=names,
                          episodes_per_hour=spec.episodes_per_hour if spec.background == "real-planted" else 0.0,
                          turnover_usd_day=turnover)
    lines, n = pipeline_lines(market.run(), market.symbols, settings, simulated=False)
    tiers = {p.symbol: p.tier for p in market.profiles}
    return RunResult(spec, lines, labels_from_episodes(market.labels), tiers, start, end,
                     time.process_time() - started, n)


def run_all(specs: Sequence[RunSpec], settings: Settings, jobs: int = 2,
            progress: Callable[[RunResult, int, int], None] | None = None) -> list[RunResult]:
    """Every run, ``jobs`` at a time in worker processes (inline when ``jobs`` is 1), in ``specs`` order."""
    results: list[RunResult | None] = [None] * len(specs)
    if jobs <= 1 or len(specs) <= 1:
        for i, spec in enumerate(specs):
            results[i] = run_one(spec, settings)
            if progress:
                progress(results[i], i + 1, len(specs))
        return [r for r in results if r is not None]
    # Real days first: they are the longest tasks, so the pool ends evenly.
    order = sorted(range(len(specs)), key=lambda i: 0 if specs[i].background.startswith("real") else 1)
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(run_one, specs[i], settings): i for i in order}
        done = 0
        for fut in _as_completed(futures):
            i = futures[fut]
            results[i] = fut.result()
            done += 1
            if progress:
                progress(results[i], done, len(specs))
    return [r for r in results if r is not None]


def _as_completed(futures: Any) -> Iterable[Any]:
    from concurrent.futures import as_completed

    return as_completed(futures)
