"""Scoring alert lines against labelled episodes, as events (pure): recall, precision, latency, false alarms.

An **event** is one alert id. Its lines are the changes the detectors published (``new``,
``escalated``, ``reclassified``, ``dump``, ``ended``). The rules (docs/detection.md, Evaluation):

- An event is **raised** at its first line at watch or above (an event that never reaches watch
  is not counted); its *primary kind* is the kind on that line, its *final kind* the kind on its
  last line, its severity the highest on any line.
- A labelled manipulation of kind K on symbol S is **detected** when an event on S has a line at
  watch or above (not ``ended``) between the label's start and its end plus ``grace_s``, whatever
  the line's kind; *named* when that line's kind is K. Latency: first such line minus the start.
- An event on a symbol is a **true positive** when it is raised inside a labelled manipulation on
  the same symbol (start to end plus grace); *primary kind matching* when its primary kind is that
  label's kind (the final-kind reading is reported beside it).
- Every other event on a symbol is a **false alarm**, counted per symbol-day at watch+ and (by
  its highest severity) high+; its *context* is the hard negatives active when it was raised
  (market move, funding settlement, block print, volatile hour, trend or listing day) or none.
- Events on ``MARKET`` (market-wide moves) are never a symbol's false alarm: they are counted
  apart, and each large planted market move (|move| >= ``LARGE_MOVE``) is *announced* when a
  MARKET event has a line at watch+ inside it (start to end plus grace).
- Labels and events before ``start + warmup_s`` are not scored (baselines need history); a
  label that began earlier can still make a later event a true positive.

Every figure is reported per liquidity tier (each symbol's tier comes with the run) and pooled.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from virtuoso.domain.alerts import MARKET_SYMBOL, SYMBOL_KINDS

MANIPULATION_KINDS = tuple(k.value for k in SYMBOL_KINDS)
SEVERITY_RANK = {"info": 0, "watch": 1, "high": 2, "critical": 3}
LARGE_MOVE = 0.03  # a planted market move at least this large must be announced
UNTIERED = "untiered"
TARGETS = {"recall": 0.90, "precision": 0.90, "precision_primary": 0.80, "latency_s": 60.0,
           "latency_pump_s": 25.0, "fa_watch": 1.0, "fa_high": 0.1}


@dataclass(frozen=True, slots=True)
class Label:
    kind: str
    symbol: str
    start_ms: int
    end_ms: int
    amplitude: float = 0.0


@dataclass(frozen=True, slots=True)
class Line:
    """One alert line, reduced to what scoring reads."""

    id: str
    symbol: str
    kind: str
    rank: int  # severity: 0 info .. 3 critical
    ts_event_ms: int
    change: str = "new"


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    symbol: str
    raised_ms: int
    primary_kind: str
    final_kind: str
    max_rank: int
    hits: tuple[tuple[int, str], ...]  # (time, kind) of every line at watch+ that is not "ended"


def line_from_dict(d: Mapping[str, Any]) -> Line:
    """A line from an ``--alerts-out`` JSON object (``id, symbol, kind, severity, ts_event_ms``, optional ``change``)."""
    sev = d.get("severity")
    return Line(str(d["id"]), str(d["symbol"]), str(d["kind"]), SEVERITY_RANK.get(str(sev), 0), int(d["ts_event_ms"]),
                str(d.get("change") or "new"))


def lines_from_alerts(alerts: Iterable[Any]) -> list[Line]:
    """Lines from :class:`virtuoso.domain.alerts.Alert` objects (or anything with their fields)."""
    out = []
    for a in alerts:
        change = getattr(a, "change", "new")
        out.append(Line(a.id, a.symbol, str(getattr(a.kind, "value", a.kind)),
                        SEVERITY_RANK.get(str(getattr(a.severity, "value", a.severity)), 0), int(a.ts_event_ms),
                        str(getattr(change, "value", change))))
    return out


def build_events(lines: Iterable[Line]) -> list[Event]:
    """One event per id that reaches watch, in order of being raised."""
    by_id: dict[str, list[Line]] = {}
    for ln in lines:
        by_id.setdefault(ln.id, []).append(ln)
    out = []
    for eid, ls in by_id.items():
        ls.sort(key=lambda x: x.ts_event_ms)
        raised = next((x for x in ls if x.rank >= 1 and x.change != "ended"), None)
        if raised is None:
            continue
        hits = tuple((x.ts_event_ms, x.kind) for x in ls if x.rank >= 1 and x.change != "ended")
        out.append(Event(eid, raised.symbol, raised.ts_event_ms, raised.kind, ls[-1].kind, max(x.rank for x in ls), hits))
    out.sort(key=lambda e: (e.raised_ms, e.id))
    return out


@dataclass(frozen=True, slots=True)
class LabelOutcome:
    kind: str
    symbol: str
    tier: str
    detected: bool
    named: bool
    latency_s: float | None


@dataclass(frozen=True, slots=True)
class EventOutcome:
    symbol: str
    tier: str
    primary_kind: str
    max_rank: int
    true_positive: bool
    primary_match: bool
    final_match: bool
    context: tuple[str, ...]  # hard negatives active when a false alarm was raised


@dataclass(frozen=True, slots=True)
class MoveOutcome:
    amplitude: float
    announced: bool
    latency_s: float | None


@dataclass
class Scoreboard:
    """Scored runs of one background (simulated, quiet simulated, real candles ...), pooled and per tier."""

    name: str
    held_out: bool = True
    grace_s: float = 120.0
    runs: int = 0
    labels: list[LabelOutcome] = field(default_factory=list)
    events: list[EventOutcome] = field(default_factory=list)
    moves: list[MoveOutcome] = field(default_factory=list)
    market_events: int = 0
    run_days: float = 0.0
    symbol_days: dict[str, float] = field(default_factory=dict)

    def add_run(self, lines: Iterable[Line], labels: Sequence[Label], tiers: Mapping[str, str], start_ms: int,
                end_ms: int, warmup_s: float = 3_600.0) -> None:
        """Score one run of the symbols in ``tiers`` (symbol -> tier) over [start_ms, end_ms)."""
        self.runs += 1
        cut = start_ms + int(warmup_s * 1000)
        grace = int(self.grace_s * 1000)
        self.run_days += max(0, end_ms - cut) / 86_400_000
        for sym in tiers:
            t = tiers[sym] or UNTIERED
            self.symbol_days[t] = self.symbol_days.get(t, 0.0) + max(0, end_ms - cut) / 86_400_000
        events = [e for e in build_events(lines) if cut <= e.raised_ms < end_ms]
        manip = [lb for lb in labels if lb.kind in MANIPULATION_KINDS and lb.symbol != "*"]
        by_sym: dict[str, list[Event]] = {}
        for e in events:
            by_sym.setdefault(e.symbol, []).append(e)
        for lb in manip:
            if not cut <= lb.start_ms < end_ms:
                continue
            hit = [(ts, k) for e in by_sym.get(lb.symbol, ()) for ts, k in e.hits if lb.start_ms <= ts <= lb.end_ms + grace]
            first = min((ts for ts, _ in hit), default=None)
            self.labels.append(LabelOutcome(lb.kind, lb.symbol, tiers.get(lb.symbol, UNTIERED), bool(hit),
                                            any(k == lb.kind for _, k in hit),
                                            None if first is None else (first - lb.start_ms) / 1000))
        negatives = [lb for lb in labels if lb.kind not in MANIPULATION_KINDS]
        for e in events:
            if e.symbol == MARKET_SYMBOL:
                self.market_events += 1
                continue
            inside = [lb for lb in manip if lb.symbol == e.symbol and lb.start_ms <= e.raised_ms <= lb.end_ms + grace]
            context = () if inside else tuple(sorted({lb.kind for lb in negatives if lb.symbol in (e.symbol, "*")
                                                      and lb.start_ms <= e.raised_ms <= lb.end_ms + grace}))
            self.events.append(EventOutcome(e.symbol, tiers.get(e.symbol, UNTIERED), e.primary_kind, e.max_rank,
                                            bool(inside), any(lb.kind == e.primary_kind for lb in inside),
                                            any(lb.kind == e.final_kind for lb in inside), context))
        market = [e for e in events if e.symbol == MARKET_SYMBOL]
        for lb in labels:
            if lb.kind == "market_move" and abs(lb.amplitude) >= LARGE_MOVE and cut <= lb.start_ms < end_ms:
                ts = [t for e in market for t, _ in e.hits if lb.start_ms <= t <= lb.end_ms + grace]
                self.moves.append(MoveOutcome(lb.amplitude, bool(ts), (min(ts) - lb.start_ms) / 1000 if ts else None))

    # ------------------------------------------------------------------ figures

    def tiers(self) -> list[str]:
        return sorted(self.symbol_days)

    def figures(self, tier: str | None = None) -> dict[str, Any]:
        """Every figure, pooled (``tier=None``) or for one tier. NaN where nothing was there to measure."""
        labs = [x for x in self.labels if tier is None or x.tier == tier]
        evs = [x for x in self.events if tier is None or x.tier == tier]
        days = self.symbol_days.get(tier, 0.0) if tier is not None else sum(self.symbol_days.values())
        fa = [x for x in evs if not x.true_positive]
        fa_high = [x for x in fa if x.max_rank >= 2]
        out: dict[str, Any] = {"symbol_days": days, "events": len(evs), "labels": {}, "recall": {}, "recall_named": {},
                               "median_latency_s": {}, "p90_latency_s": {}}
        for k in MANIPULATION_KINDS:
            mine = [x for x in labs if x.kind == k]
            lat = sorted(x.latency_s for x in mine if x.latency_s is not None)
            out["labels"][k] = len(mine)
            out["recall"][k] = _ratio(sum(x.detected for x in mine), len(mine))
            out["recall_named"][k] = _ratio(sum(x.named for x in mine), len(mine))
            out["median_latency_s"][k] = float(statistics.median(lat)) if lat else math.nan
            out["p90_latency_s"][k] = lat[min(len(lat) - 1, int(round(0.9 * (len(lat) - 1))))] if lat else math.nan
        out["recall_any"] = _ratio(sum(x.detected for x in labs), len(labs))
        out["precision"] = _ratio(sum(x.true_positive for x in evs), len(evs))
        out["precision_primary"] = _ratio(sum(x.primary_match for x in evs), len(evs))
        out["precision_final"] = _ratio(sum(x.final_match for x in evs), len(evs))
        out["false_alarms"] = {"watch": len(fa), "high": len(fa_high)}
        out["fa_per_symbol_day"] = {"watch": _ratio(len(fa), days), "high": _ratio(len(fa_high), days)}
        out["fa_upper95_per_symbol_day"] = {"watch": _ratio(poisson_upper(len(fa)), days),
                                            "high": _ratio(poisson_upper(len(fa_high)), days)}
        ctx: dict[str, int] = {}
        for x in fa:
            for c in x.context or ("none",):
                ctx[c] = ctx.get(c, 0) + 1
        out["fa_context"] = dict(sorted(ctx.items(), key=lambda kv: -kv[1]))
        kinds: dict[str, int] = {}
        for x in fa:
            kinds[x.primary_kind] = kinds.get(x.primary_kind, 0) + 1
        out["fa_kinds"] = dict(sorted(kinds.items(), key=lambda kv: -kv[1]))
        return out

    def market(self) -> dict[str, Any]:
        """MARKET events (per scored day of the runs) and how many large planted market moves were announced."""
        lat = sorted(x.latency_s for x in self.moves if x.latency_s is not None)
        return {"market_events": self.market_events, "per_day": _ratio(self.market_events, self.run_days),
                "large_moves": len(self.moves), "announced": sum(x.announced for x in self.moves),
                "median_latency_s": float(statistics.median(lat)) if lat else math.nan}

    def checks(self) -> dict[str, bool]:
        """Each target of issue 13 that this scoreboard can show, pooled and in every tier (False = missed)."""
        out: dict[str, bool] = {}
        for t in [None, *self.tiers()]:
            f = self.figures(t)
            name = t or "all"
            for k in MANIPULATION_KINDS:
                if f["labels"][k]:
                    out[f"{name}: recall {k}"] = f["recall"][k] >= TARGETS["recall"]
                    goal = TARGETS["latency_pump_s"] if k == "pump_and_dump" else TARGETS["latency_s"]
                    if f["median_latency_s"][k] == f["median_latency_s"][k]:
                        out[f"{name}: median latency {k}"] = f["median_latency_s"][k] <= goal
            if any(f["labels"].values()) and f["events"]:
                out[f"{name}: precision"] = f["precision"] >= TARGETS["precision"]
                out[f"{name}: precision, primary kind"] = f["precision_primary"] >= TARGETS["precision_primary"]
            if f["symbol_days"] > 0:
                out[f"{name}: false alarms watch+"] = f["fa_per_symbol_day"]["watch"] <= TARGETS["fa_watch"]
                out[f"{name}: false alarms high+"] = f["fa_per_symbol_day"]["high"] <= TARGETS["fa_high"]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "held_out": self.held_out, "runs": self.runs,
                "all": self.figures(), "tiers": {t: self.figures(t) for t in self.tiers()},
                "market": self.market(), "checks": self.checks()}


def poisson_upper(k: int, z: float = 1.645) -> float:
    """One-sided 95 % upper bound of a Poisson mean after ``k`` events (exact at 0: ln 20 = 3.0; Wilson-Hilferty above)."""
    if k <= 0:
        return math.log(20.0)
    n = k + 1
    return n * (1.0 - 1.0 / (9.0 * n) + z / (3.0 * math.sqrt(n))) ** 3


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


def labels_from_episodes(episodes: Iterable[Any]) -> list[Label]:
    """Labels from simulator :class:`Episode` objects or labels-file dicts."""
    out = []
    for e in episodes:
        if isinstance(e, Mapping):
            start = int(e["start_ms"])
            end = int(e.get("end_ms") or start + int(e["duration_s"]) * 1000)
            out.append(Label(str(e["kind"]), str(e["symbol"]), start, end, float(e.get("amplitude") or 0.0)))
        else:
            out.append(Label(e.kind, e.symbol, e.start_ms, e.end_ms, float(e.amplitude)))
    return out
