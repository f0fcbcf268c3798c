"""Detection runner: called by the pipeline once per second of *event* time.

Each second it pushes every symbol's newest closed 1-second bar onto the :class:`Tape`, reads the
windows (1 s to 30 min) for all symbols at once with the market's share taken out
(:mod:`virtuoso.detect.market_factor`), computes every statistic (:mod:`virtuoso.detect.statistics`),
grades each against the symbol's own calibrated alarm levels (:mod:`virtuoso.detect.calibration`)
and floors, and hands each symbol's readings to the event policy (:mod:`virtuoso.alerting.policy`):
one event per manipulation, with one id. A pump is followed after it opens so its dump is told on
the same event; the whole market's move is one event of its own on ``MARKET``.

Once a minute the closed minute updates each symbol's scales (:mod:`virtuoso.detect.baselines`) and
betas, and each statistic's sample for calibration (minutes inside an open event are left out).
Pure apart from reading the market state it is handed. New thresholds (the dashboard's Apply) are
taken at the start of the next second, so one second's alerts are all judged by one set.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from virtuoso.alerting.policy import EventBook, EventChange
from virtuoso.config import AlertPolicySettings, DetectionSettings
from virtuoso.detect import market_move, pump_and_dump
from virtuoso.detect.baselines import Baselines
from virtuoso.detect.calibration import Calibrator, graded_level
from virtuoso.detect.composite import composite_score
from virtuoso.detect.evidence import Readings, alert_from_change, kind_readings
from virtuoso.detect.levels import floored, ratio, score_for, severity_for
from virtuoso.detect.priors import PRIORS
from virtuoso.detect.market_factor import Betas, capped_weights, loo_weighted_median, residual
from virtuoso.detect.statistics import STATS, Scales, compute
from virtuoso.detect.tape import Tape
from virtuoso.detect.windows import WindowReader, budget_rates, market_rates
from virtuoso.domain.alerts import MARKET_SYMBOL, SYMBOL_KINDS, Alert, AlertKind, Change, Severity

_KINDS = SYMBOL_KINDS


class _Pump:
    __slots__ = ("start_ms", "low", "peak", "peak_level")

    def __init__(self, start_ms: int, low: float, peak: float, level: float) -> None:
        self.start_ms, self.low, self.peak, self.peak_level = start_ms, low, peak, level


class DetectionRunner:
    def __init__(self, thresholds: DetectionSettings, policy: AlertPolicySettings, symbols: Sequence[str],
                 simulated: bool = False) -> None:
        self.thresholds = thresholds
        self.policy_settings = policy
        self.symbols: list[str] = list(dict.fromkeys(symbols))
        self.simulated = simulated
        n = len(self.symbols)
        self._row = {s: i for i, s in enumerate(self.symbols)}
        self._last_start = np.full(n, -1, dtype=np.int64)
        self.tape = Tape(n)
        self.base = Baselines(n)
        self.market_base = Baselines(1)
        self.betas = Betas(n)
        hist = thresholds.history_hours * 60
        self.calibrator = Calibrator({s.name: s.model for s in STATS}, n, hist, budget_rates(thresholds), PRIORS)
        # The market factor's readings are in sigmas like a coin's price readings: the same priors.
        market_priors = {f"market_{w}": PRIORS[f"price_{w}"] for w in market_move.WINDOWS_S if f"price_{w}" in PRIORS}
        self.market_calibrator = Calibrator({f"market_{w}": m for w, m in market_move.MODEL.items()}, 1, hist,
                                            market_rates(thresholds), market_priors)
        self.book = EventBook(policy)
        self.levels = np.zeros((n, len(_KINDS)))
        self.market_level = 0.0
        self._last_line: dict[str, Alert] = {}  # event id -> its latest line (an ended line repeats it)
        self._pumps: dict[str, _Pump] = {}
        self._dumped: set[str] = set()  # events whose dump was told (followed no more)
        self._in_event = np.zeros(n, dtype=bool)
        self._market_in_event = False
        self._pending: DetectionSettings | None = None
        self.seconds = 0

    # ------------------------------------------------------------------ the universe

    def add_symbol(self, symbol: str) -> None:
        """Follow a symbol listed while running (called between seconds): its rows start empty and
        its levels come from the priors until its own history builds up."""
        if symbol in self._row:
            return
        self._row[symbol] = len(self.symbols)
        self.symbols.append(symbol)
        for part in (self.tape, self.base, self.betas, self.calibrator):
            part.add_rows(1)
        self._last_start = np.append(self._last_start, -1)
        self._in_event = np.append(self._in_event, False)
        self.levels = np.vstack([self.levels, np.zeros((1, len(_KINDS)))])

    def remove_symbol(self, symbol: str) -> None:
        """Stop following a delisted symbol: its rows and its open event go."""
        i = self._row.get(symbol)
        if i is None:
            return
        keep = np.ones(len(self.symbols), dtype=bool)
        keep[i] = False
        self.tape.drop_rows(keep)
        for part in (self.base, self.betas, self.calibrator):
            part.keep_rows(keep)
        self._last_start, self._in_event, self.levels = self._last_start[keep], self._in_event[keep], self.levels[keep]
        self.symbols.pop(i)
        self._row = {s: k for k, s in enumerate(self.symbols)}
        self.book.forget(symbol)
        self._pumps.pop(symbol, None)

    # ------------------------------------------------------------------ settings

    def set_thresholds(self, thresholds: DetectionSettings) -> None:
        """New thresholds, taken at the start of the next second (calibration is kept)."""
        self._pending = thresholds

    def next_thresholds(self) -> DetectionSettings:
        """The thresholds the next second runs with (pending ones if set)."""
        return self._pending if self._pending is not None else self.thresholds

    def _take_pending(self) -> None:
        th = self._pending
        if th is None:
            return
        self._pending = None
        self.thresholds = th
        self.calibrator.set_history(th.history_hours * 60)
        self.market_calibrator.set_history(th.history_hours * 60)
        self.calibrator.set_rates(budget_rates(th))
        self.market_calibrator.set_rates(market_rates(th))

    # ------------------------------------------------------------------ one second

    def on_second(self, state: Any, ts_ms: int) -> list[Alert]:
        """Alerts for the second ending at ``ts_ms`` (event lines, already through the policy)."""
        # NaN and infinities are expected (no history yet, an empty window): one context for the
        # whole second, so the hot numpy code below needs none of its own.
        with np.errstate(all="ignore"):
            return self._second(state, ts_ms)

    def _second(self, state: Any, ts_ms: int) -> list[Alert]:
        self._take_pending()
        self._push(state)
        self.seconds += 1
        if ts_ms % 60_000 == 0 and self.tape.covers(60):
            self._close_minute()
        self.calibrator.refit_step()
        if self.seconds % 60 == 30:
            self.market_calibrator.refit_all()
        if not self.tape.covers(2):
            return []
        reader = self._reader()
        readings = self._grade(reader)
        alerts = self._events(readings, reader, ts_ms)
        alerts += self._market(reader, ts_ms)
        return alerts

    def _push(self, state: Any) -> None:
        rows: list[list[Any]] = []
        last = self._last_start
        for i, symbol in enumerate(self.symbols):
            new = [b for b in state.bars_1s(symbol, 3) if b.start_ms > last[i]]
            if new:
                last[i] = new[-1].start_ms
            rows.append(new)
        self.tape.push(rows)

    def _reader(self) -> WindowReader:
        b = self.base
        scales = Scales(b.sigma_1m_pct, b.volume_per_s, b.oi_sigma_1m_pct, b.liq_per_min)
        return WindowReader(self.tape, scales, self.betas.beta, capped_weights(b.volume_per_s))

    def _grade(self, reader: WindowReader) -> Readings:
        """Every statistic, graded: per kind the level (max over its windows) and which window led."""
        th = self.thresholds
        windows = reader.windows()
        stats = {}
        for spec in STATS:
            values = compute(spec, windows, reader.scales)
            self.calibrator.observe(spec.name, values)
            stats[spec.name] = values
        rise = reader.rise_from_low_pct()
        readings = kind_readings(stats, self.calibrator, windows, reader.scales, th, rise)
        self.levels = readings.levels
        return readings

    def _events(self, readings: Readings, reader: WindowReader, ts_ms: int) -> list[Alert]:
        out: list[Alert] = []
        exit_ratio = self.policy_settings.exit_ratio
        top = readings.levels.max(axis=1) if readings.levels.size else np.zeros(0)
        for i, symbol in enumerate(self.symbols):
            if top[i] < exit_ratio * 0.5 and not self.book.is_open(symbol):
                continue
            levels = {k: float(readings.levels[i, j]) for j, k in enumerate(_KINDS)}
            change = self.book.step(symbol, levels, ts_ms)
            self._in_event[i] |= self.book.is_open(symbol)
            if change is not None:
                out.append(self._publish(change, i, readings, reader, ts_ms))
            dump = self._follow_pump(symbol, i, readings, reader, ts_ms)
            if dump is not None:
                out.append(dump)
        return out

    def _publish(self, change: EventChange, i: int, readings: Readings, reader: WindowReader, ts_ms: int,
                 extra: tuple[dict[str, Any], str] | None = None) -> Alert:
        symbol = change.symbol
        if change.change is Change.ENDED:
            self._pumps.pop(symbol, None)
            self._dumped.discard(change.id)
        elif change.kind is AlertKind.PUMP_AND_DUMP and symbol not in self._pumps and change.id not in self._dumped:
            price = float(reader.tape.now("price")[i])
            low = price / (1.0 + float(reader.rise_from_low_pct()[i]) / 100.0)
            self._pumps[symbol] = _Pump(change.start_ms, low, price, change.level)
            self.book.hold(symbol, change.start_ms + pump_and_dump.FOLLOW_S * 1000)
        return self._line(alert_from_change(change, i, readings, self.simulated, ts_ms, extra,
                                            previous=self._last_line.get(change.id)))

    def _line(self, alert: Alert) -> Alert:
        if alert.change is Change.ENDED:
            self._last_line.pop(alert.id, None)
        else:
            self._last_line[alert.id] = alert
        return alert

    def _follow_pump(self, symbol: str, i: int, readings: Readings, reader: WindowReader, ts_ms: int) -> Alert | None:
        p = self._pumps.get(symbol)
        if p is None:
            return None
        if ts_ms - p.start_ms > pump_and_dump.FOLLOW_S * 1000 or not self.book.is_open(symbol):
            self._pumps.pop(symbol, None)
            self.book.release(symbol)
            return None
        price = float(reader.tape.now("price")[i])
        if price > p.peak:
            p.peak = price
        p.peak_level = max(p.peak_level, float(readings.levels[i, _KINDS.index(AlertKind.PUMP_AND_DUMP)]))
        given_back = pump_and_dump.retrace_frac(p.low, p.peak, price)
        rise_pct = (p.peak / p.low - 1.0) * 100.0 if p.low > 0 else 0.0
        if given_back < self.thresholds.dump_retrace_frac or rise_pct < self.thresholds.pump_min_pct:
            return None
        self._pumps.pop(symbol, None)
        self.book.release(symbol)
        # The dump is news (told on the same event) but not a second alarm: the severity stays the
        # pump reading's own calibrated grade. Escalating every watch pump that retraced to high
        # made high+ follow how often ordinary rises revert (0.2 a symbol-day on held-out real
        # candles against a 0.05 budget), and the backtest preview, which has no dump, disagreed.
        sev = severity_for(p.peak_level)
        change = self.book.escalate(symbol, sev, Change.DUMP)
        if change is None:
            return None
        self._dumped.add(change.id)
        extra = pump_and_dump.describe_dump(rise_pct, given_back, (ts_ms - p.start_ms) / 60_000)
        return self._publish(change, i, readings, reader, ts_ms, extra)

    # ------------------------------------------------------------------ the market

    def _market(self, reader: WindowReader, ts_ms: int) -> list[Alert]:
        if len(self.symbols) < market_move.MIN_SYMBOLS:
            return []
        th = self.thresholds
        best, best_w, info = 0.0, 0, (0.0, 0, 0.0, 0.0, 0.0)
        sigma = self.market_base.sigma_1m_pct[0]
        for w in market_move.WINDOWS_S:
            move, moving, n = reader.market_move(w)
            stat = abs(move) / (sigma * math.sqrt(w / 60.0)) if sigma == sigma and sigma > 0 else math.nan
            name = f"market_{w}"
            self.market_calibrator.observe(name, np.array([stat]))
            lv = self.market_calibrator.levels(name)[0]
            g = float(graded_level(np.array([stat]), *(np.array([x]) for x in lv))[0])
            gate = min(float(ratio(np.array([abs(move)]), th.market_move_min_pct)[0]),
                       (moving / n) / market_move.BREADTH if n >= market_move.MIN_SYMBOLS else 0.0)
            level = float(floored(np.array([g]), np.array([gate]))[0])
            if market_move.crash(move, th) and gate >= 1.0:
                level = max(level, 2.5)
            if level > best:
                best, best_w, info = level, w, (move, moving, n, stat, float(lv[0]))
        self.market_level = best
        change = self.book.step(MARKET_SYMBOL, {AlertKind.MARKET_MOVE: best}, ts_ms)
        self._market_in_event |= self.book.is_open(MARKET_SYMBOL)
        if change is None:
            return []
        move, moving, n, stat, alarm = info
        described = market_move.describe(move, best_w or 300, moving, n, reader.market_liquidations(300), stat, alarm)
        return [self._line(alert_from_change(change, -1, None, self.simulated, ts_ms, described,
                                             direction=int(np.sign(move)), previous=self._last_line.get(change.id)))]

    # ------------------------------------------------------------------ minutes

    def _close_minute(self) -> None:
        tape = self.tape
        with np.errstate(invalid="ignore", divide="ignore"):
            ret = np.log(tape.now("price") / tape.ago("price", 60)) * 100.0
            doi = np.log(tape.now("oi") / tape.ago("oi", 60)) * 100.0
        turnover = tape.change("turnover", 60)
        liq = tape.change("liq", 60)
        beta = self.betas.beta
        weights = capped_weights(self.base.volume_per_s)
        with np.errstate(invalid="ignore", divide="ignore"):
            others, everyone = loo_weighted_median(ret / beta, weights)
        self.betas.update(ret, others)
        self.base.update(residual(ret, beta * others), turnover, doi, liq)
        self.market_base.update(np.array([everyone]), np.array([np.nansum(turnover)]), np.array([np.nan]),
                                np.array([np.nansum(liq)]))
        self.calibrator.close_minute(self._in_event)
        self.market_calibrator.close_minute(np.array([self._market_in_event]))
        self._in_event = np.array([self.book.is_open(s) for s in self.symbols], dtype=bool)
        self._market_in_event = self.book.is_open(MARKET_SYMBOL)

    # ------------------------------------------------------------------ reads for the UI and executor

    def composite_scores(self) -> dict[str, float]:
        """Composite manipulation score per symbol, 0-100, from the current readings."""
        return {s: composite_score({k: float(self.levels[i, j]) for j, k in enumerate(_KINDS)})
                for i, s in enumerate(self.symbols)} if self.levels.size else {s: 0.0 for s in self.symbols}

    def latest_levels(self) -> dict[str, dict[str, float]]:
        """Per symbol and kind: the level of the last second (1.0 = at its alarm)."""
        return {s: {k.value: round(float(self.levels[i, j]), 3) for j, k in enumerate(_KINDS)}
                for i, s in enumerate(self.symbols)} if self.levels.size else {}

    def calibration_status(self) -> dict[str, Any]:
        """How much history the alarm levels rest on (for the health page and the tuning page)."""
        minutes = int(self.calibrator.minutes)
        need = min(m.min_n for m in self.calibrator.models.values())
        return {"minutes": minutes, "minutes_needed": need, "history_min": self.calibrator.history_min}

    # score_for is re-exported for callers that grade levels the same way (reports, executor)
    score_for = staticmethod(score_for)
