"""From graded statistics to readings per kind, and from an event change to the Alert a trader reads.

:func:`kind_readings` grades every statistic against its calibrated alarm levels and floors and keeps,
per symbol and kind, the level (the highest over the kind's windows) and which window led.
:func:`alert_from_change` writes one line of an event: the evidence in words (the primary reading
first, then the other readings close to their alarms) and the numbers behind them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from virtuoso.alerting.policy import ELIGIBLE, EventChange
from virtuoso.config import DetectionSettings
from virtuoso.detect import (
    divergence,
    liquidation_cascade,
    oi_surge,
    price_move,
    pump_and_dump,
    volume_spike,
)
from virtuoso.detect.calibration import Calibrator, graded_level
from virtuoso.detect.levels import floored, score_for
from virtuoso.detect.statistics import STATS, STATS_BY_KIND, Scales, StatSpec, Window
from virtuoso.domain.alerts import SYMBOL_KINDS, Alert, AlertKind, Change

MODULES = {
    AlertKind.OI_SURGE: oi_surge,
    AlertKind.VOLUME_SPIKE: volume_spike,
    AlertKind.PRICE_MOVE: price_move,
    AlertKind.OI_PRICE_DIVERGENCE: divergence,
    AlertKind.PUMP_AND_DUMP: pump_and_dump,
    AlertKind.LIQUIDATION_CASCADE: liquidation_cascade,
}
MAX_LINES = 4


@dataclass(frozen=True, slots=True)
class Readings:
    """One second's graded readings (rows: symbols; kinds in ``SYMBOL_KINDS`` order)."""

    levels: np.ndarray  # (n, kinds): level of each kind
    lead: np.ndarray  # (n, kinds): index of the leading window in STATS_BY_KIND[kind]
    stats: Mapping[str, np.ndarray]
    alarms: Mapping[str, np.ndarray]  # per statistic: (n, 3) watch / high / critical levels
    windows: Mapping[int, Window]
    scales: Scales
    rise_pct: np.ndarray


def floor_ratio(spec: StatSpec, windows: Mapping[int, Window], th: DetectionSettings, rise_pct: Any,
                scales: Scales) -> Any:
    """measured / floor of the statistic's kind on its window (>= 1: the floor is met)."""
    w = windows[spec.window_s]
    kind = spec.kind
    if kind is AlertKind.PUMP_AND_DUMP:
        return pump_and_dump.floor_ratio(w, th, rise_pct, scales)
    if kind is AlertKind.LIQUIDATION_CASCADE:
        return liquidation_cascade.floor_ratio(w, th, windows[300].oi_chg_pct)
    return MODULES[kind].floor_ratio(w, th)


_KIND_ROWS = [[k for k, spec in enumerate(STATS) if spec.kind is kind] for kind in SYMBOL_KINDS]


def kind_readings(stats: Mapping[str, np.ndarray], calibrator: Calibrator, windows: Mapping[int, Window],
                  scales: Scales, th: DetectionSettings, rise_pct: np.ndarray) -> Readings:
    """Grade every statistic at once (rows: statistics, columns: symbols), then keep per kind the
    highest level over its windows and which window led. Callers hold ``np.errstate(all="ignore")``."""
    n = len(rise_pct)
    stat = np.vstack([stats[spec.name] for spec in STATS]) if n else np.zeros((len(STATS), 0))
    alarm = np.stack([calibrator.levels(spec.name) for spec in STATS])  # (stats, n, 3)
    fr = np.vstack([np.broadcast_to(floor_ratio(spec, windows, th, rise_pct, scales), (n,)) for spec in STATS])
    graded = floored(graded_level(stat, alarm[:, :, 0], alarm[:, :, 1], alarm[:, :, 2]), fr)
    levels = np.zeros((n, len(SYMBOL_KINDS)))
    lead = np.zeros((n, len(SYMBOL_KINDS)), dtype=np.int64)
    for j, rows in enumerate(_KIND_ROWS):
        block = graded[rows]
        levels[:, j] = block.max(axis=0)
        lead[:, j] = block.argmax(axis=0)
    alarms = {spec.name: alarm[k] for k, spec in enumerate(STATS)}
    return Readings(levels, lead, stats, alarms, windows, scales, rise_pct)


def describe(kind: AlertKind, i: int, r: Readings) -> tuple[dict[str, Any], str]:
    """The numbers and the line of ``kind``'s leading reading on row ``i``."""
    j = SYMBOL_KINDS.index(kind)
    spec = STATS_BY_KIND[kind][int(r.lead[i, j])]
    w = r.windows[spec.window_s]
    stat = float(r.stats[spec.name][i])
    alarm = float(r.alarms[spec.name][i, 0])
    if kind is AlertKind.PUMP_AND_DUMP:
        values, line = pump_and_dump.describe(i, w, r.scales, stat, alarm, float(r.rise_pct[i]))
    elif kind is AlertKind.LIQUIDATION_CASCADE:
        values, line = liquidation_cascade.describe(i, w, r.scales, stat, alarm, r.windows[300])
    else:
        values, line = MODULES[kind].describe(i, w, r.scales, stat, alarm)
    values = {"level": round(float(r.levels[i, j]), 3), **{k: _round(v) for k, v in values.items()}}
    return values, line


def direction_of(kind: AlertKind, i: int, r: Readings) -> int:
    j = SYMBOL_KINDS.index(kind)
    spec = STATS_BY_KIND[kind][int(r.lead[i, j])]
    d = MODULES[kind].direction(r.windows[spec.window_s])
    v = float(np.asarray(d)[i]) if np.ndim(d) else float(d)
    return int(np.sign(v)) if np.isfinite(v) else 0


ENDED_LINE = "Ended: every reading has been back under its alarm for a minute"


def alert_from_change(change: EventChange, i: int, r: Readings | None, simulated: bool, ts_ms: int,
                      extra: tuple[dict[str, Any], str] | None = None, direction: int | None = None,
                      previous: Alert | None = None) -> Alert:
    """The Alert line for ``change`` (``r`` is None for the market-wide event, which brings its own).

    An ``ended`` line repeats the evidence of the event's previous line (``previous``) under an
    "Ended" line: what the trader was told stays with the event."""
    lines: list[str] = []
    readings: dict[str, Any] = {}
    if change.change is Change.ENDED and previous is not None:
        evidence = {**dict(previous.evidence), "lines": [ENDED_LINE, *previous.evidence_lines]}
        return Alert(id=change.id, symbol=change.symbol, kind=change.kind, severity=change.severity,
                     score=previous.score, ts_event_ms=ts_ms, evidence=evidence,
                     message=f"{change.symbol}: {change.kind.value.replace('_', ' ')} ended, {change.severity.value}",
                     simulated=simulated, ts_start_ms=change.start_ms, change=change.change,
                     direction=previous.direction)
    if extra is not None:
        values, line = extra
        lines.append(line)
        readings[change.kind.value if change.kind is AlertKind.MARKET_MOVE else "dump"] = values
    if r is not None and i >= 0:
        order = [change.kind] + sorted((k for k in SYMBOL_KINDS if k is not change.kind
                                        and r.levels[i, SYMBOL_KINDS.index(k)] >= ELIGIBLE),
                                       key=lambda k: -r.levels[i, SYMBOL_KINDS.index(k)])
        for kind in order[:MAX_LINES]:
            values, line = describe(kind, i, r)
            readings[kind.value] = values
            lines.append(line)
        if direction is None:
            direction = direction_of(change.kind, i, r)
    evidence: dict[str, Any] = {"lines": lines, "readings": readings}
    if change.kind is AlertKind.PUMP_AND_DUMP:
        evidence["phase"] = "dump" if change.change is Change.DUMP or "dump" in readings else "pump"
    label = change.kind.value.replace("_", " ")
    verb = {Change.NEW: "", Change.ESCALATED: " escalated", Change.RECLASSIFIED: " (now read as this)",
            Change.DUMP: " dumping", Change.ENDED: " ended"}[change.change]
    message = f"{change.symbol}: {label}{verb}, {change.severity.value}"
    if lines:
        message += f". {lines[0]}"
    return Alert(id=change.id, symbol=change.symbol, kind=change.kind, severity=change.severity,
                 score=score_for(change.level), ts_event_ms=ts_ms, evidence=evidence, message=message,
                 simulated=simulated, ts_start_ms=change.start_ms, change=change.change, direction=int(direction or 0))


def _round(v: Any) -> Any:
    if isinstance(v, (float, np.floating)):
        x = float(v)
        return round(x, 4) if np.isfinite(x) else None
    if isinstance(v, (np.integer,)):
        return int(v)
    return v
