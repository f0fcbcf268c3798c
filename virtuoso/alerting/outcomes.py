"""Alert outcomes (pure): what the market did after each event, and how often a kind was worth it.

For one event (its first line's time ``ts_ms``, symbol, kind, severity, ``direction``) and the
symbol's 1-minute bars around it, :func:`compute_outcome` measures, from the bars alone:

- the reference price: the close of the alert's minute (the bar holding ``ts_ms``);
- returns at +5 min, +1 h and +4 h: the close of the minute holding ``ts_ms + h`` against it;
- within 1 h: the highest high and lowest low against it (``max_up_1h_pct``, ``max_down_1h_pct``),
  and so the largest move *for* the alert's direction and *against* it (both positive numbers;
  for an event without a direction, for = the larger of the two, against = None);
- the coin's usual move: the median absolute 1-hour return over the 24 h before the event (with
  less than 2 h of history, the median 5-minute move scaled to an hour; unknown below 35 min);
- ``hit``: the move for the alert's direction within 1 h is at least ``hit_multiple`` times the
  usual move; ``reversed_1h``: the 1-hour return has the sign against the direction;
- OI and funding reversion: the change into the event (OI over the 30 min before it, funding over
  the hour before) and whether at +1 h at least half of it was given back (unknown when the change
  into the event was too small to speak of: 0.2 % of OI, 0.005 percentage points of funding).

A horizon is measured once its minute has closed (event time, so a replay works like live data).
:func:`outcome_table` summarises outcomes per kind and severity; :func:`outlook_note` says in one
sentence what past events of a kind did on a coin, for the Trading Outlook embed and the PDF.
"""

from __future__ import annotations

import bisect
import math
import statistics
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Iterable, Mapping, Sequence

from virtuoso.domain.bars import Bar

MINUTE_MS = 60_000
HORIZONS_MIN = (("5m", 5), ("1h", 60), ("4h", 240))
HISTORY_MIN = 24 * 60  # bars before the event the usual move is measured on
USUAL_MIN_HOURLY = 60
USUAL_MIN_FIVES = 30
OI_LOOKBACK_MIN = 30
FUNDING_LOOKBACK_MIN = 60
OI_MIN_CHANGE_PCT = 0.2
FUNDING_MIN_CHANGE = 0.00005  # 0.005 percentage points
NOTE_MIN_EVENTS = 3  # below this many measured events on the coin, the note adds every coin's figure


@dataclass(frozen=True, slots=True)
class Outcome:
    """What followed one event; None = not measurable (yet, or from these bars)."""

    event_id: str
    symbol: str
    kind: str
    severity: str
    direction: int
    ts_ms: int
    simulated: bool = False
    stage: str = "pending"  # the longest horizon measured so far: pending, 5m, 1h, 4h
    ref_price: float | None = None
    ret_5m_pct: float | None = None
    ret_1h_pct: float | None = None
    ret_4h_pct: float | None = None
    max_up_1h_pct: float | None = None
    max_down_1h_pct: float | None = None
    move_for_1h_pct: float | None = None
    move_against_1h_pct: float | None = None
    usual_move_1h_pct: float | None = None
    hit: bool | None = None
    reversed_1h: bool | None = None
    oi_change_into_pct: float | None = None
    oi_reverted_1h: bool | None = None
    funding_change_into: float | None = None
    funding_reverted_1h: bool | None = None

    @property
    def complete(self) -> bool:
        return self.stage == "4h"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, float):
                d[k] = round(v, 6) if math.isfinite(v) else None
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Outcome":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def _finite(x: float) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def _bar_at(starts: list[int], t_ms: int) -> int:
    """Index of the bar whose minute holds ``t_ms`` (-1 when there is none)."""
    i = bisect.bisect_right(starts, t_ms) - 1
    return i if i >= 0 and t_ms < starts[i] + MINUTE_MS else -1


def _ret_pct(a: float, b: float) -> float | None:
    return (b / a - 1.0) * 100.0 if _finite(a) and _finite(b) and a > 0 else None


def usual_move_pct(bars: Sequence[Bar], end_ms: int, minutes: int = HISTORY_MIN) -> float | None:
    """The coin's usual 1-hour move (%) from the ``minutes`` of bars before ``end_ms``.

    The median absolute 1-hour return when there are at least 60 of them (2 h of bars); with less
    history, the median absolute 5-minute return scaled by sqrt(12), a random walk's 1-hour
    equivalent (at least 30 of those); else None."""
    closes = {b.start_ms: b.close for b in bars
              if end_ms - minutes * MINUTE_MS <= b.start_ms < end_ms and _finite(b.close) and b.close > 0}

    def moves(lag_min: int) -> list[float]:
        out = []
        for t, c in closes.items():
            later = closes.get(t + lag_min * MINUTE_MS)
            if later is not None:
                out.append(abs(later / c - 1.0) * 100.0)
        return out

    hourly = moves(60)
    if len(hourly) >= USUAL_MIN_HOURLY:
        return statistics.median(hourly)
    fives = moves(5)
    if len(fives) >= USUAL_MIN_FIVES:
        return statistics.median(fives) * math.sqrt(12)
    return None


def compute_outcome(base: Outcome, bars: Sequence[Bar], hit_multiple: float) -> Outcome:
    """``base`` (the event's identity) measured against ``bars`` (1-minute, any order, one symbol)."""
    bars = sorted((b for b in bars if b.interval_s == 60), key=lambda b: b.start_ms)
    starts = [b.start_ms for b in bars]
    i0 = _bar_at(starts, base.ts_ms)
    if i0 < 0 or not _finite(bars[i0].close) or bars[i0].close <= 0:
        return base
    ref_bar = bars[i0]
    ref = ref_bar.close
    rets: dict[str, float | None] = {}
    stage = "pending"
    for name, minutes in HORIZONS_MIN:
        j = _bar_at(starts, base.ts_ms + minutes * MINUTE_MS)
        rets[name] = _ret_pct(ref, bars[j].close) if j > i0 else None
        if rets[name] is not None:
            stage = name
    out = replace(base, stage=stage, ref_price=ref, ret_5m_pct=rets["5m"], ret_1h_pct=rets["1h"], ret_4h_pct=rets["4h"],
                  usual_move_1h_pct=usual_move_pct(bars, ref_bar.start_ms))
    j1 = _bar_at(starts, base.ts_ms + 60 * MINUTE_MS)
    if j1 <= i0:
        return out
    window = bars[i0 + 1:j1 + 1]
    highs = [b.high for b in window if _finite(b.high)]
    lows = [b.low for b in window if _finite(b.low)]
    up = _ret_pct(ref, max(highs)) if highs else None
    down = _ret_pct(ref, min(lows)) if lows else None
    up = max(0.0, up) if up is not None else None
    down = min(0.0, down) if down is not None else None
    d = base.direction
    if d > 0:
        move_for, move_against = up, (-down if down is not None else None)
    elif d < 0:
        move_for, move_against = (-down if down is not None else None), up
    else:
        both = [abs(x) for x in (up, down) if x is not None]
        move_for, move_against = (max(both) if both else None), None
    usual = out.usual_move_1h_pct
    hit = move_for >= hit_multiple * usual if move_for is not None and usual is not None and usual > 0 else None
    reversed_1h = (d * rets["1h"] < 0) if d != 0 and rets["1h"] is not None else None
    oi_into, oi_rev = _reversion(bars, starts, i0, j1, "open_interest", OI_LOOKBACK_MIN, relative=True)
    f_into, f_rev = _reversion(bars, starts, i0, j1, "funding_rate", FUNDING_LOOKBACK_MIN, relative=False)
    return replace(out, max_up_1h_pct=up, max_down_1h_pct=down, move_for_1h_pct=move_for,
                   move_against_1h_pct=move_against, hit=hit, reversed_1h=reversed_1h,
                   oi_change_into_pct=oi_into, oi_reverted_1h=oi_rev, funding_change_into=f_into,
                   funding_reverted_1h=f_rev)


def _reversion(bars: Sequence[Bar], starts: list[int], i0: int, j1: int, attr: str, lookback_min: int,
               relative: bool) -> tuple[float | None, bool | None]:
    """(change into the event, whether half of it was given back by +1 h) for OI or funding."""
    ib = _bar_at(starts, bars[i0].start_ms - lookback_min * MINUTE_MS)
    at, later = getattr(bars[i0], attr), getattr(bars[j1], attr)
    before = getattr(bars[ib], attr) if ib >= 0 else math.nan
    if not (_finite(at) and _finite(before) and _finite(later)):
        return None, None
    if relative:
        if before <= 0:
            return None, None
        into = (at / before - 1.0) * 100.0
        meaningful = abs(into) >= OI_MIN_CHANGE_PCT
    else:
        into = at - before
        meaningful = abs(into) >= FUNDING_MIN_CHANGE
    if not meaningful:
        return into, None
    gave_back = (at - later) * (1 if at > before else -1)
    return into, bool(gave_back >= 0.5 * abs(at - before))


# ---------------------------------------------------------------------------------------- summaries


@dataclass(frozen=True, slots=True)
class OutcomeRow:
    """Outcomes of one kind and severity: counts and medians over events measured at +1 h."""

    kind: str
    severity: str
    events: int
    measured_1h: int
    hits: int
    reversed_1h: int
    directional: int  # measured events that had a direction
    median_ret_1h_pct: float | None
    median_move_for_1h_pct: float | None
    median_move_against_1h_pct: float | None

    @property
    def hit_rate(self) -> float | None:
        return self.hits / self.measured_1h if self.measured_1h else None


_SEVERITY_ORDER = {"info": 0, "watch": 1, "high": 2, "critical": 3}


def _median(xs: Iterable[float | None]) -> float | None:
    vals = [x for x in xs if x is not None and _finite(x)]
    return statistics.median(vals) if vals else None


def outcome_table(outcomes: Iterable[Outcome]) -> list[OutcomeRow]:
    """One row per (kind, severity) present, kinds alphabetically, severities from critical down."""
    groups: dict[tuple[str, str], list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault((o.kind, o.severity), []).append(o)
    rows = []
    for (kind, sev), group in groups.items():
        measured = [o for o in group if o.ret_1h_pct is not None]
        directional = [o for o in measured if o.direction != 0]
        rows.append(OutcomeRow(
            kind, sev, len(group), len(measured), sum(1 for o in measured if o.hit),
            sum(1 for o in directional if o.reversed_1h), len(directional),
            _median(o.ret_1h_pct for o in measured), _median(o.move_for_1h_pct for o in measured),
            _median(o.move_against_1h_pct for o in measured),
        ))
    return sorted(rows, key=lambda r: (r.kind, -_SEVERITY_ORDER.get(r.severity, -1)))


def _kind_words(kind: str) -> str:
    return kind.replace("_", " ")


def _counts(group: Sequence[Outcome], hit_multiple: float) -> str:
    directional = [o for o in group if o.direction != 0]
    parts = []
    if directional:
        parts.append(f"{sum(1 for o in directional if o.reversed_1h)} of {len(directional)} reversed within 1 h")
    judged = [o for o in group if o.hit is not None]
    if judged:
        parts.append(f"{sum(1 for o in judged if o.hit)} of {len(judged)} moved at least {hit_multiple:g}x "
                     "the coin's usual 1 h move their way")
    return "; ".join(parts)


def outlook_note(outcomes: Iterable[Outcome], symbol: str, kind: str, hit_multiple: float,
                 exclude_id: str | None = None) -> str:
    """One measured sentence about past events of ``kind`` on ``symbol`` (all coins when few)."""
    past = [o for o in outcomes if o.kind == kind and o.ret_1h_pct is not None and o.event_id != exclude_id]
    mine = [o for o in past if o.symbol == symbol]
    words = _kind_words(kind)
    parts = []
    if mine:
        parts.append(f"Past {words} events on {symbol}: {_counts(mine, hit_multiple)}.")
    if len(mine) < NOTE_MIN_EVENTS and len(past) > len(mine):
        parts.append(f"On every coin: {_counts(past, hit_multiple)}.")
    if not parts:
        return f"No measured outcomes of {words} events yet (each is measured 5 min, 1 h and 4 h after it)."
    return " ".join(parts)
