"""Detection runner: called by the pipeline once per second of *event* time.

For every watched symbol it folds the newest closed 1-second bar into a :class:`SecondSeries`,
refreshes the 1-minute baselines when a minute has closed, computes the features, asks every
detector for its level, and passes the levels through the alert policy. Pump-and-dump episodes
are followed after they open so the dump escalates the same alert. Pure apart from reading the
market state it is handed; thresholds can be swapped at once with :meth:`set_thresholds`.
"""

from __future__ import annotations

import math
from dataclasses import fields as dataclass_fields
from operator import attrgetter
from typing import Any

import numpy as np

from virtuoso.alerting.policy import Decision, EpisodePolicy, market_wide_symbols
from virtuoso.config import AlertPolicySettings, DetectionSettings
from virtuoso.detect.composite import composite_score
from virtuoso.detect.features import SIGMA_BARS, Baseline, Features, baseline_from_bars
from virtuoso.detect.levels import HIGH_LEVEL, score_for, severity_for
from virtuoso.detect.pump_and_dump import retrace_frac
from virtuoso.detect.registry import DETECTORS, MARKET_EXPLAINED, market_explained
from virtuoso.detect.series import SecondSeries
from virtuoso.domain.alerts import Alert, AlertKind, Severity, episode_id

PUMP_FOLLOW_S = 1_800  # how long after a pump opens its dump still escalates it
# An episode that opened at most this long before its symbol was seen moving with a market-wide
# move is explained by it too: a pump's early watch can open before enough of the watchlist has
# moved to call the move market-wide. Its watch is out, but its escalations (the dump) are demoted.
LATE_EXPLAIN_S = 180
_FEATURE_VALUES = attrgetter(*(f.name for f in dataclass_fields(Features)))


class _Symbol:
    __slots__ = ("series", "baseline", "minute_ms", "refresh_offset_ms", "features", "levels", "pump")

    def __init__(self, refresh_offset_ms: int = 0) -> None:
        self.series = SecondSeries()
        self.baseline = Baseline(math.nan, math.nan, math.nan, 0.0)
        self.minute_ms = -1
        self.refresh_offset_ms = refresh_offset_ms
        self.features: Features | None = None
        self.levels: dict[AlertKind, float] = {}
        self.pump: _Pump | None = None


class _Pump:
    __slots__ = ("start_ms", "low", "peak", "peak_level", "escalated")

    def __init__(self, start_ms: int, low: float, peak: float, level: float) -> None:
        self.start_ms, self.low, self.peak, self.peak_level, self.escalated = start_ms, low, peak, level, False


class DetectionRunner:
    def __init__(self, thresholds: DetectionSettings, policy: AlertPolicySettings, symbols: list[str],
                 simulated: bool = False) -> None:
        self.thresholds = thresholds
        self.policy_settings = policy
        self.symbols = list(symbols)
        self.simulated = simulated
        self.policy = EpisodePolicy(policy)
        # Each symbol refreshes its baselines at its own second of the minute (the i-th at second
        # i mod 60): the same baselines (they only use minutes closed before the short window), but
        # a large watchlist no longer recomputes them all in one second, the alert path's worst case.
        self._sym = {s: _Symbol((i % 60) * 1000) for i, s in enumerate(self.symbols)}
        # (symbol, kind) -> start of the episode a market-wide move explained: its escalations
        # (and a pump's dump) stay demoted even when the market's move has faded by then, unless
        # the symbol breaks away from the market (moves far more than its median mover).
        self._explained: dict[tuple[str, AlertKind], int] = {}

    def set_thresholds(self, thresholds: DetectionSettings) -> None:
        """New thresholds take effect from the next second (baselines are kept)."""
        self.thresholds = thresholds
        for st in self._sym.values():
            st.minute_ms = -1  # windows that depend on thresholds are rebuilt next second

    def on_second(self, state: Any, ts_ms: int) -> list[Alert]:
        """Alerts for the second ending at ``ts_ms`` (already through the policy)."""
        th = self.thresholds
        moving: dict[str, float] = {}
        active: list[_Symbol] = []
        for symbol, st in self._sym.items():
            if not self._update(state, symbol, st, th):
                continue
            f = st.features
            assert f is not None
            active.append(st)
            if f.market_moving:
                # Signed size of the move (%), on the window the price_move detector reads too.
                moving[symbol] = f.market_moving * max(abs(f.ret_short_pct), abs(f.ret_mid_pct))
        if active:
            self._levels(active, th)
        ps = self.policy_settings
        demoted = market_wide_symbols(moving, len(self._sym), ps.market_wide_fraction, ps.market_wide_max_ratio)
        # Moving with a market-wide move but far more than it: no longer explained by the market.
        broke_away = market_wide_symbols(moving, len(self._sym), ps.market_wide_fraction) - demoted
        for symbol in demoted:
            self._explain_late(symbol, ts_ms)
        alerts: list[Alert] = []
        for symbol, st in self._sym.items():
            if st.features is None:
                continue
            for kind, level in st.levels.items():
                sev = severity_for(level)
                decision = self.policy.step(symbol, kind.value, level, sev, ts_ms)
                if decision is not None:
                    explained = symbol in demoted and bool(market_explained(kind, st.features, th))
                    wide = self._market_wide(symbol, kind, decision, explained, symbol in broke_away)
                    alerts.append(self._alert(symbol, kind, decision, level, ts_ms, wide))
                    if kind is AlertKind.PUMP_AND_DUMP and decision.event == "new":
                        low = st.series.low
                        st.pump = _Pump(ts_ms, low, st.features.close, level)
            pump = self._follow_pump(symbol, st, ts_ms, th)
            if pump is not None:
                alerts.append(pump)
        return alerts

    def _market_wide(self, symbol: str, kind: AlertKind, d: Decision, wide_now: bool, broke_away: bool) -> bool:
        """Whether this alert is demoted: its episode opened during a market-wide move (unless the
        symbol has since broken away from it: a crash that began with the market's dip), or this is it."""
        key = (symbol, kind)
        if d.event == "new":
            if wide_now:
                self._explained[key] = d.episode_start_ms
                self.policy.waive_cooldown(symbol, kind.value)
            else:
                self._explained.pop(key, None)
            return wide_now
        return wide_now or (not broke_away and self._explained.get(key) == d.episode_start_ms)

    def _explain_late(self, symbol: str, ts_ms: int) -> None:
        """Mark this symbol's episodes opened in the last LATE_EXPLAIN_S as the market's move."""
        for kind in MARKET_EXPLAINED:
            start = self.policy.latest_start_ms(symbol, kind.value)
            if start >= 0 and ts_ms - start <= LATE_EXPLAIN_S * 1000 and self._explained.get((symbol, kind)) != start:
                self._explained[(symbol, kind)] = start
                self.policy.waive_cooldown(symbol, kind.value)

    @staticmethod
    def _levels(active: list[_Symbol], th: DetectionSettings) -> None:
        """Every detector's level for every active symbol, each detector called once on arrays.

        The detector formulas are numpy expressions; on arrays (one value per symbol) a call costs
        about what one symbol's scalar call did, so a 100-symbol second takes half the time.
        """
        rows = list(map(_FEATURE_VALUES, (st.features for st in active)))
        stacked = Features(*(np.array(col, dtype=float) for col in zip(*rows)))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            by_kind = [(kind, np.asarray(mod.level(stacked, th), dtype=float)) for kind, mod in DETECTORS.items()]
        # A NaN (not enough history) or infinite level reads as 0.
        by_kind = [(kind, np.where(np.isfinite(lv), lv, 0.0)) for kind, lv in by_kind]
        for i, st in enumerate(active):
            st.levels = {kind: float(lv[i]) for kind, lv in by_kind}

    def _update(self, state: Any, symbol: str, st: _Symbol, th: DetectionSettings) -> bool:
        for bar in state.bars_1s(symbol, 3):
            st.series.push(bar)
        if len(st.series) < 2:
            return False
        newest = st.series.last_start_ms
        minute = newest - newest % 60_000
        if minute != st.minute_ms and (newest - minute >= st.refresh_offset_ms or st.minute_ms < 0
                                       or minute - st.minute_ms > 60_000):
            st.minute_ms = minute
            need = max(th.volume_baseline_min, SIGMA_BARS + 1)
            # Baselines from minutes that ended before the short window began.
            bars = [b for b in state.bars_1m(symbol, need + 2) if b.end_ms <= minute - 60_000]
            st.baseline = baseline_from_bars(bars[-need:], th.volume_baseline_min, max(1, th.oi_window_s // 60))
        st.features = st.series.features(st.baseline, th.oi_window_s)
        return True

    def _follow_pump(self, symbol: str, st: _Symbol, ts_ms: int, th: DetectionSettings) -> Alert | None:
        p = st.pump
        if p is None or st.features is None:
            return None
        if ts_ms - p.start_ms > PUMP_FOLLOW_S * 1000:
            st.pump = None
            return None
        close = st.features.close
        if close > p.peak:
            p.peak = close
            p.peak_level = max(p.peak_level, st.levels.get(AlertKind.PUMP_AND_DUMP, 0.0))
        given_back = retrace_frac(p.low, p.peak, close)
        if p.escalated or given_back < th.dump_retrace_frac:
            return None
        p.escalated = True
        rise_pct = (p.peak / p.low - 1.0) * 100.0 if p.low > 0 else 0.0
        # The dump confirms the pattern, but a rise that barely crossed the threshold stays a watch:
        # half of a 1.2 % wiggle given back is ordinary noise, not a high-severity event.
        if rise_pct < HIGH_LEVEL * th.pump_price_pct:
            return None
        sev = Severity.CRITICAL if rise_pct >= 2.0 * th.pump_price_pct else Severity.HIGH
        decision = self.policy.escalate(symbol, AlertKind.PUMP_AND_DUMP.value, sev)
        if decision is None:
            return None
        level = max(p.peak_level, 1.6 if sev is Severity.HIGH else 2.5)
        wide = self._explained.get((symbol, AlertKind.PUMP_AND_DUMP)) == decision.episode_start_ms
        ev = {"phase": "dump", "rise_pct": round(rise_pct, 3), "retrace_frac": round(given_back, 3),
              "peak_price": p.peak, "price": close, "threshold_retrace_frac": th.dump_retrace_frac}
        msg = f"{symbol}: pump of {rise_pct:.1f}% now dumping ({given_back:.0%} given back)"
        if wide:  # the pump rose with the market: its dump is the market's too
            ev["market_wide"] = True
            sev = Severity.INFO
            msg += " during a market-wide move"
        return Alert(id=episode_id(symbol, AlertKind.PUMP_AND_DUMP.value, decision.episode_start_ms), symbol=symbol,
                     kind=AlertKind.PUMP_AND_DUMP, severity=sev, score=score_for(level), ts_event_ms=ts_ms,
                     evidence=ev, message=msg, simulated=self.simulated)

    def _alert(self, symbol: str, kind: AlertKind, d: Decision, level: float, ts_ms: int, market_wide: bool) -> Alert:
        st = self._sym[symbol]
        assert st.features is not None
        evidence = dict(DETECTORS[kind].evidence(st.features, self.thresholds))
        evidence["level"] = round(level, 3)
        sev = d.severity
        if market_wide:
            evidence["market_wide"] = True
            sev = Severity.INFO
        if kind is AlertKind.PUMP_AND_DUMP:
            evidence["phase"] = "pump"
        verb = "escalated to" if d.event == "escalate" else "at"
        msg = f"{symbol}: {kind.value.replace('_', ' ')} {verb} {sev.value} ({level:.2f}x threshold)"
        if market_wide:
            msg += " during a market-wide move"
        return Alert(id=episode_id(symbol, kind.value, d.episode_start_ms), symbol=symbol, kind=kind, severity=sev,
                     score=score_for(level), ts_event_ms=ts_ms, evidence=evidence, message=msg, simulated=self.simulated)

    def composite_scores(self) -> dict[str, float]:
        """Composite manipulation score per symbol, 0-100, from the current detector levels."""
        return {s: composite_score(st.levels) for s, st in self._sym.items()}

    def latest_evidence(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Per symbol and kind: the level of the last second and the measured values behind it."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for symbol, st in self._sym.items():
            if st.features is None:
                continue
            out[symbol] = {
                kind.value: {"level": round(st.levels.get(kind, 0.0), 3), **DETECTORS[kind].evidence(st.features, self.thresholds)}
                for kind in DETECTORS
            }
        return out
