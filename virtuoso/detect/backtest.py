"""Threshold backtest (pure, vectorised): which events would these budgets and floors have raised?

Used by the dashboard's tuning page on the recorded 1-minute history. It follows the live
definitions on whole minutes: the same statistics (:mod:`virtuoso.detect.statistics`) on windows of
1, 5, 15 and 30 minutes (the live 30-second pump window reads one minute), the same scales, the same
market factor, each statistic calibrated on the history's own distribution with the same tail fit
(:mod:`virtuoso.detect.calibration`) and the same budgets, the same floors and the same primary-kind
rule. A flag is an event: the first minute a reading reaches its alarm, then nothing more for that
symbol during ``cooldown_s`` (a greedy cover, so raising a floor or lowering a budget can never add
flags); its severity is the highest level inside that span.

The expensive part (statistics and tail fits) depends on the history only and is computed once
(:func:`prepare`); each slider position then costs a grading pass (:func:`flags_for`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from virtuoso.alerting.policy import ELIGIBLE, SPECIFICITY
from virtuoso.config import AlertPolicySettings, DetectionSettings
from virtuoso.detect import market_move
from virtuoso.detect.baselines import CLIP_SIGMAS, LIQ_FLOOR_SHARE, MIN_MINUTES, MIN_OI_SIGMA_PCT, MIN_SIGMA_PCT, OI_HALF_LIFE_MIN
from virtuoso.detect.baselines import SIGMA_HALF_LIFE_MIN, VOLUME_MINUTES
from virtuoso.detect.calibration import TailFit, fit_tails, graded_level
from virtuoso.detect.evidence import floor_ratio
from virtuoso.detect.levels import floored, ratio, score_for, severity_for
from virtuoso.detect.market_factor import BETA_HALF_LIFE_MIN, BETA_PRIOR_MIN, BETA_RANGE, capped_weights
from virtuoso.detect.market_factor import explained_residual, loo_median, loo_weighted_median_rows, residual
from virtuoso.detect.statistics import STATS, STATS_BY_KIND, WINDOWS_S, Scales, Window, compute
from virtuoso.detect.statistics import liquidation_log_ratio, volume_log_ratio
from virtuoso.detect.windows import budget_rates, market_rates
from virtuoso.domain.alerts import MARKET_SYMBOL, SYMBOL_KINDS, AlertKind, Severity
from virtuoso.domain.bars import Bar

MINUTES = {30: 1, 60: 1, 300: 5, 900: 15, 1800: 30}  # live window (s) -> minutes it reads here
_FIELDS = ("close", "high", "low", "turnover", "buy", "sell", "liq", "liq_long", "oi", "print")


@dataclass(frozen=True, slots=True)
class Flag:
    symbol: str
    kind: AlertKind
    severity: Severity
    ts_ms: int
    score: float


@dataclass(frozen=True)
class Prepared:
    """The history's statistics and their fitted tails (rows: minutes, columns: symbols)."""

    ends_ms: np.ndarray
    symbols: list[str]
    stats: dict[str, np.ndarray]
    windows: dict[int, Window]
    rise_pct: np.ndarray  # price over its 15-minute low, %
    scales: Scales
    fits: dict[str, TailFit]
    market_stat: dict[int, np.ndarray]  # per window: |factor move| in its sigmas (rows: minutes)
    market_gate: dict[int, tuple[np.ndarray, np.ndarray]]  # per window: (|move| %, breadth share)
    market_fits: dict[int, TailFit]


def _frames(bars_by_symbol: Mapping[str, Sequence[Bar]]) -> tuple[np.ndarray, list[str], dict[str, pd.DataFrame]]:
    frames = {}
    for symbol, bars in bars_by_symbol.items():
        if len(bars) < 2:
            continue
        rows = np.array([(b.end_ms, b.close, b.high, b.low, max(0.0, b.turnover - b.block_volume * b.close),
                          b.buy_volume * b.close, b.sell_volume * b.close,
                          (b.long_liq_volume + b.short_liq_volume) * b.close, b.long_liq_volume * b.close,
                          b.open_interest, b.max_print_volume * b.close) for b in bars], dtype=float)
        frames[symbol] = pd.DataFrame(rows[:, 1:], index=rows[:, 0].astype(np.int64), columns=list(_FIELDS))
    if not frames:
        return np.empty(0, dtype=np.int64), [], {}
    wide = pd.concat(frames, axis=1).sort_index()
    wide = wide[~wide.index.duplicated(keep="last")]
    symbols = list(dict.fromkeys(wide.columns.get_level_values(0)))
    return wide.index.to_numpy(dtype=np.int64), symbols, {f: wide.xs(f, axis=1, level=1)[symbols] for f in _FIELDS}


def _scales(ret: pd.DataFrame, turnover: pd.DataFrame, doi: pd.DataFrame, liq: pd.DataFrame) -> Scales:
    """The live baselines on whole minutes, each from minutes before the one it is used on."""
    def sigma(x: pd.DataFrame, half_life: float, floor: float) -> np.ndarray:
        mad = 1.4826 * x.abs().rolling(120, min_periods=MIN_MINUTES).median()
        clipped = x.clip(-CLIP_SIGMAS * mad, CLIP_SIGMAS * mad)
        ew = np.sqrt((clipped ** 2).ewm(halflife=half_life, min_periods=MIN_MINUTES).mean())
        return np.fmax(np.fmax(ew, mad), floor).shift(1).to_numpy()

    vol = np.fmax(turnover.rolling(VOLUME_MINUTES, min_periods=MIN_MINUTES).median(),
                  0.2 * turnover.rolling(VOLUME_MINUTES, min_periods=MIN_MINUTES).mean())
    cap = liq.where(liq > 0).rolling(120, min_periods=1).quantile(0.9).fillna(0.0)
    liq_base = np.fmax(np.minimum(liq, cap).rolling(120, min_periods=MIN_MINUTES).mean(), LIQ_FLOOR_SHARE * vol)
    return Scales(sigma(ret, SIGMA_HALF_LIFE_MIN, MIN_SIGMA_PCT), (vol / 60.0).shift(1).to_numpy(),
                  sigma(doi, OI_HALF_LIFE_MIN, MIN_OI_SIGMA_PCT), liq_base.fillna(0.0).shift(1).to_numpy())


def _betas(ret: np.ndarray, factor: np.ndarray) -> np.ndarray:
    a = 1.0 - 0.5 ** (1.0 / BETA_HALF_LIFE_MIN)
    prod, sq = pd.DataFrame(ret * factor), pd.DataFrame(factor * factor)
    ok = pd.DataFrame(np.isfinite(ret * factor).astype(float))
    cov = prod.ewm(alpha=a, ignore_na=True).mean().to_numpy()
    var = sq.ewm(alpha=a, ignore_na=True).mean().to_numpy()
    n = np.minimum(ok.cumsum().to_numpy(), 1.0 / a)
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = np.where(var > 0, cov / var, 1.0)
    weight = n / (n + BETA_PRIOR_MIN)
    beta = np.clip(np.where(np.isfinite(raw), weight * raw + (1 - weight), 1.0), *BETA_RANGE)
    return np.vstack([np.ones((1, beta.shape[1])), beta[:-1]])  # each minute uses the betas before it


def prepare(bars_by_symbol: Mapping[str, Sequence[Bar]]) -> Prepared:
    """Statistics and tail fits of a history (they do not depend on budgets or floors)."""
    with np.errstate(all="ignore"):
        return _prepare(bars_by_symbol)


def _prepare(bars_by_symbol: Mapping[str, Sequence[Bar]]) -> Prepared:
    ends, symbols, f = _frames(bars_by_symbol)
    if not symbols:
        return Prepared(ends, [], {}, {}, np.empty((0, 0)), Scales(*([np.empty((0, 0))] * 4)), {}, {}, {}, {})
    close, oi = f["close"].where(f["close"] > 0), f["oi"].where(f["oi"] > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        lc, loi = np.log(close) * 100.0, np.log(oi) * 100.0
    r1 = lc.diff().to_numpy()
    weights = capped_weights(np.nanmedian(f["turnover"].to_numpy(), axis=0))
    factor1, _ = loo_weighted_median_rows(r1, weights[None, :])
    beta = _betas(r1, factor1)
    resid1 = pd.DataFrame(residual(r1, beta * factor1), index=close.index, columns=symbols)
    scales = _scales(resid1, f["turnover"], loi.diff(), f["liq"])
    windows: dict[int, Window] = {}
    market: dict[int, np.ndarray] = {}
    for w in WINDOWS_S:
        m = MINUTES[w]
        ret = lc.diff(m).to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            others, everyone = loo_weighted_median_rows(ret / beta, weights[None, :])
        market[w] = everyone
        roll = {k: f[k].rolling(m, min_periods=1).sum().to_numpy() for k in ("turnover", "buy", "sell", "liq", "liq_long")}
        biggest = f["print"].rolling(m, min_periods=1).max().to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            rng = (f["high"].rolling(m, min_periods=1).max() / f["low"].rolling(m, min_periods=1).min() - 1.0).to_numpy() * 100.0
        win = Window(m * 60, ret, explained_residual(ret, beta * others), np.fmax(roll["turnover"] - np.nan_to_num(biggest), 0.0),
                     rng, roll["buy"], roll["sell"], loi.diff(m).to_numpy(), roll["liq"], roll["liq_long"],
                     np.full(ret.shape, np.nan), np.full(ret.shape, np.nan))
        win = win._replace(volume_market=loo_median(volume_log_ratio(win, scales)),
                           liq_market=loo_median(liquidation_log_ratio(win, scales)))
        windows[w] = win
    low = close.rolling(16, min_periods=1).min()
    rise = ((close / low - 1.0) * 100.0).to_numpy()
    stats, fits = {}, {}
    default_rates = budget_rates(DetectionSettings())
    for spec in STATS:
        # A live window reads seconds; here the nearest whole minutes (Window.seconds says which).
        st = compute(spec, windows, scales)
        stats[spec.name] = st
        # Live calibration leaves out the minutes inside an event; here, the minutes over the
        # default watch level of a first fit (else an episode in a short history is its own tail).
        first = fit_tails(st.T, spec.model).levels(default_rates[spec.name], spec.model.cluster_min)[:, 0]
        with np.errstate(invalid="ignore"):
            usual = np.where(st >= first[None, :], np.nan, st)
        fits[spec.name] = fit_tails(usual.T, spec.model)
    market_stat, market_gate, market_fits = _market(windows, scales, market)
    return Prepared(ends, symbols, stats, windows, rise, scales, fits, market_stat, market_gate, market_fits)


def _market(windows: dict[int, Window], scales: Scales, market: dict[int, np.ndarray]):  # type: ignore[no-untyped-def]
    one = pd.Series(market[60])  # the factor's own scale comes from its 1-minute moves
    sigma = np.sqrt((one ** 2).ewm(halflife=SIGMA_HALF_LIFE_MIN, min_periods=MIN_MINUTES).mean()).shift(1).to_numpy()
    stat, gate, fits = {}, {}, {}
    for w in market_move.WINDOWS_S:
        move = market[w]
        with np.errstate(invalid="ignore", divide="ignore"):
            s = np.abs(move) / (sigma * np.sqrt(w / 60.0))
            z = windows[w].ret_pct / (scales.sigma_1m_pct * np.sqrt(w / 60.0))
        have = np.isfinite(windows[w].ret_pct)
        moving = (have & (np.sign(windows[w].ret_pct) == np.sign(move)[:, None])
                  & (np.abs(z) >= market_move.BREADTH_SIGMAS)).sum(axis=1)
        n = have.sum(axis=1)
        stat[w] = s
        gate[w] = (np.abs(move), np.where(n >= market_move.MIN_SYMBOLS, moving / np.maximum(n, 1), 0.0))
        fits[w] = fit_tails(s[None, :], market_move.MODEL[w])
    return stat, gate, fits


def kind_levels(p: Prepared, thresholds: DetectionSettings) -> np.ndarray:
    """(minutes, symbols, kinds) levels for these budgets and floors."""
    rates = budget_rates(thresholds)
    t, n = p.ends_ms.size, len(p.symbols)
    out = np.zeros((t, n, len(SYMBOL_KINDS)))
    for j, kind in enumerate(SYMBOL_KINDS):
        for spec in STATS_BY_KIND[kind]:
            lv = p.fits[spec.name].levels(rates[spec.name], spec.model.cluster_min)  # (symbols, 3)
            g = graded_level(p.stats[spec.name], lv[None, :, 0], lv[None, :, 1], lv[None, :, 2])
            fr = floor_ratio(spec, p.windows, thresholds, p.rise_pct, p.scales)
            out[:, :, j] = np.fmax(out[:, :, j], floored(g, fr))
    return out


def market_levels(p: Prepared, thresholds: DetectionSettings) -> np.ndarray:
    rates = market_rates(thresholds)
    out = np.zeros(p.ends_ms.size)
    for w in market_move.WINDOWS_S:
        if w not in p.market_stat:
            continue
        lv = p.market_fits[w].levels(rates[f"market_{w}"], market_move.MODEL[w].cluster_min)[0]
        g = graded_level(p.market_stat[w], lv[0], lv[1], lv[2])
        move, breadth = p.market_gate[w]
        gate = np.fmin(ratio(move, thresholds.market_move_min_pct), breadth / market_move.BREADTH)
        level = floored(g, gate)
        level = np.where((move >= market_move.CRASH_MULTIPLE * thresholds.market_move_min_pct) & (gate >= 1), np.fmax(level, 2.5), level)
        out = np.fmax(out, level)
    return out


def flags_for(p: Prepared, thresholds: DetectionSettings, policy: AlertPolicySettings | None = None) -> list[Flag]:
    """Flags for one slider position on prepared history, oldest first."""
    if not p.symbols:
        return []
    policy = policy or AlertPolicySettings()
    cooldown_ms = int(policy.cooldown_s) * 1000
    with np.errstate(all="ignore"):
        levels = kind_levels(p, thresholds)
        market = market_levels(p, thresholds) if len(p.symbols) >= market_move.MIN_SYMBOLS else None
    top = levels.max(axis=2)
    flags: list[Flag] = []
    for col, symbol in enumerate(p.symbols):
        for start, peak in _cover(p.ends_ms, top[:, col], cooldown_ms):
            lv = {k: float(levels[start, col, j]) for j, k in enumerate(SYMBOL_KINDS)}
            kind = next(k for k in SPECIFICITY if k in lv and lv[k] >= min(ELIGIBLE, top[start, col]))
            flags.append(Flag(symbol, kind, severity_for(peak), int(p.ends_ms[start]), score_for(peak)))
    if market is not None:
        for start, peak in _cover(p.ends_ms, market, cooldown_ms):
            flags.append(Flag(MARKET_SYMBOL, AlertKind.MARKET_MOVE, severity_for(peak), int(p.ends_ms[start]), score_for(peak)))
    flags.sort(key=lambda fl: (fl.ts_ms, fl.symbol, fl.kind.value))
    return flags


def _cover(ends: np.ndarray, level: np.ndarray, cooldown_ms: int) -> list[tuple[int, float]]:
    """Greedy cover of the minutes at or above 1: (first minute's index, highest level in its span)."""
    hits = np.flatnonzero(level >= 1.0)
    out = []
    i = 0
    hit_ends = ends[hits]
    while i < hits.size:
        start = hit_ends[i]
        j = max(int(np.searchsorted(hit_ends, start + cooldown_ms, side="left")), i + 1) if cooldown_ms > 0 else i + 1
        out.append((int(hits[i]), float(level[hits[i:j]].max())))
        i = j
    return out


def backtest_flags(bars_by_symbol: Mapping[str, Sequence[Bar]], thresholds: DetectionSettings,
                   policy: AlertPolicySettings | None = None) -> list[Flag]:
    """Flags these budgets and floors would have raised on this 1-minute history, oldest first."""
    return flags_for(prepare(bars_by_symbol), thresholds, policy)


def flag_counts(flags: Sequence[Flag]) -> dict[str, dict[str, int]]:
    """symbol -> kind -> number of flags."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for fl in flags:
        out[fl.symbol][fl.kind.value] += 1
    return {s: dict(k) for s, k in out.items()}
