"""Scoring alerts against labelled episodes (pure): recall, precision, latency, false alarms.

Matching rules (documented in README and docs/detection.md):

- A labelled manipulation episode of kind K on symbol S is *detected* when an alert of kind K on S
  at watch or above arrives between the episode's start and its end plus ``grace_s``. Its latency
  is the first such alert's event time minus the episode start.
- An alert episode (one alert id, at its highest severity, watch or above) is a *true positive*
  when it starts inside any labelled manipulation episode on the same symbol (start to end plus
  grace): a price_move raised during a pump-and-dump is a correct flag, even if not the label's
  kind. ``precision_same_kind`` also reports the stricter reading where the kind must match.
- Every other alert episode at watch or above is a *false alarm*, counted per symbol-day and by
  its highest severity. Hard negatives (market-wide moves, volatile hours, funding times) are not
  manipulation, so alerts on them are false alarms unless demoted to info.
- Labels and alerts in the first ``warmup_s`` of a run are ignored: baselines need history.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from virtuoso.domain.alerts import SYMBOL_KINDS, Alert, Severity

MANIPULATION_KINDS = tuple(k.value for k in SYMBOL_KINDS)


@dataclass(frozen=True, slots=True)
class Label:
    kind: str
    symbol: str
    start_ms: int
    end_ms: int


@dataclass
class Evaluation:
    """Counts and figures of one or more scored runs (add runs with :meth:`add`)."""

    grace_s: float = 120.0
    symbol_days: float = 0.0
    labels: dict[str, int] = field(default_factory=lambda: {k: 0 for k in MANIPULATION_KINDS})
    detected: dict[str, int] = field(default_factory=lambda: {k: 0 for k in MANIPULATION_KINDS})
    latencies_s: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in MANIPULATION_KINDS})
    alert_episodes: int = 0
    true_positive: int = 0
    true_positive_same_kind: int = 0
    false_alarms: dict[str, int] = field(default_factory=lambda: {"watch": 0, "high": 0, "critical": 0})

    def add(self, alerts: Iterable[Alert], labels: Sequence[Label], symbols: int, start_ms: int, end_ms: int,
            warmup_s: float = 3_600.0) -> None:
        """Score one run of ``symbols`` symbols over [start_ms, end_ms)."""
        cut = start_ms + int(warmup_s * 1000)
        self.symbol_days += symbols * max(0, end_ms - cut) / 86_400_000
        grace = int(self.grace_s * 1000)
        positives = [lb for lb in labels if lb.kind in MANIPULATION_KINDS and lb.symbol != "*" and lb.start_ms >= cut]
        episodes = _episodes(a for a in alerts if a.ts_event_ms >= cut)
        for lb in positives:
            self.labels[lb.kind] += 1
            hits = [ts for (sym, kind), (ts, _) in episodes.items_by_first() if sym == lb.symbol and kind == lb.kind
                    and lb.start_ms <= ts <= lb.end_ms + grace]
            hits += [ts for sym, kind, ts in episodes.escalations if sym == lb.symbol and kind == lb.kind
                     and lb.start_ms <= ts <= lb.end_ms + grace]
            if hits:
                self.detected[lb.kind] += 1
                self.latencies_s[lb.kind].append((min(hits) - lb.start_ms) / 1000)
        all_labels = [lb for lb in labels if lb.kind in MANIPULATION_KINDS and lb.symbol != "*"]
        for (sym, kind), (ts, sev) in episodes.items_by_first():
            self.alert_episodes += 1
            inside = [lb for lb in all_labels if lb.symbol == sym and lb.start_ms <= ts <= lb.end_ms + grace]
            if inside:
                self.true_positive += 1
                self.true_positive_same_kind += int(any(lb.kind == kind for lb in inside))
            else:
                self.false_alarms[sev.value] = self.false_alarms.get(sev.value, 0) + 1

    def recall(self, kind: str) -> float:
        n = self.labels[kind]
        return self.detected[kind] / n if n else float("nan")

    @property
    def precision(self) -> float:
        return self.true_positive / self.alert_episodes if self.alert_episodes else float("nan")

    @property
    def precision_same_kind(self) -> float:
        return self.true_positive_same_kind / self.alert_episodes if self.alert_episodes else float("nan")

    @property
    def recall_overall(self) -> float:
        n = sum(self.labels.values())
        return sum(self.detected.values()) / n if n else float("nan")

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall_overall
        return 2 * p * r / (p + r) if p + r > 0 else float("nan")

    def false_alarms_per_symbol_day(self, severity: str) -> float:
        """Watch counts watch and above; high counts high and critical."""
        levels = {"watch": ("watch", "high", "critical"), "high": ("high", "critical"), "critical": ("critical",)}[severity]
        n = sum(self.false_alarms.get(s, 0) for s in levels)
        return n / self.symbol_days if self.symbol_days else float("nan")

    def latency(self, kind: str, q: float) -> float:
        xs = sorted(self.latencies_s[kind])
        if not xs:
            return float("nan")
        if q == 0.5:
            return float(statistics.median(xs))
        return float(xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))])

    def table(self) -> str:
        """The evaluation as a Markdown table plus summary lines."""
        rows = ["| kind | episodes | recall | median latency (s) | p90 latency (s) |", "|---|---|---|---|---|"]
        for k in MANIPULATION_KINDS:
            rows.append(f"| {k} | {self.labels[k]} | {_f(self.recall(k), 2)} | {_f(self.latency(k, 0.5), 0)} | "
                        f"{_f(self.latency(k, 0.9), 0)} |")
        rows += [
            "",
            f"precision {_f(self.precision, 3)} (same kind as the label: {_f(self.precision_same_kind, 3)}), "
            f"recall {_f(self.recall_overall, 3)}, F1 {_f(self.f1, 3)} over {self.alert_episodes} alert episodes",
            f"false alarms per symbol-day: watch+ {_f(self.false_alarms_per_symbol_day('watch'), 2)}, "
            f"high+ {_f(self.false_alarms_per_symbol_day('high'), 2)} ({self.symbol_days:.1f} symbol-days scored)",
        ]
        return "\n".join(rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "recall": {k: self.recall(k) for k in MANIPULATION_KINDS},
            "median_latency_s": {k: self.latency(k, 0.5) for k in MANIPULATION_KINDS},
            "p90_latency_s": {k: self.latency(k, 0.9) for k in MANIPULATION_KINDS},
            "precision": self.precision, "precision_same_kind": self.precision_same_kind,
            "recall_overall": self.recall_overall, "f1": self.f1,
            "false_alarms_per_symbol_day": {s: self.false_alarms_per_symbol_day(s) for s in ("watch", "high")},
            "symbol_days": self.symbol_days, "labels": dict(self.labels), "alert_episodes": self.alert_episodes,
        }


class _EpisodeIndex:
    """Alert episodes by (symbol, kind, id): first time and highest severity; escalation times."""

    def __init__(self) -> None:
        self.first: dict[str, tuple[str, str, int, Severity]] = {}
        self.escalations: list[tuple[str, str, int]] = []

    def items_by_first(self) -> list[tuple[tuple[str, str], tuple[int, Severity]]]:
        return [((sym, kind), (ts, sev)) for sym, kind, ts, sev in self.first.values()]


def _episodes(alerts: Iterable[Alert]) -> _EpisodeIndex:
    idx = _EpisodeIndex()
    for a in sorted(alerts, key=lambda a: a.ts_event_ms):
        if a.severity is Severity.INFO:
            continue
        prev = idx.first.get(a.id)
        if prev is None:
            idx.first[a.id] = (a.symbol, a.kind.value, a.ts_event_ms, a.severity)
        else:
            idx.escalations.append((a.symbol, a.kind.value, a.ts_event_ms))
            if a.severity.rank > prev[3].rank:
                idx.first[a.id] = (prev[0], prev[1], prev[2], a.severity)
    return idx


def _f(x: float, digits: int) -> str:
    return "n/a" if x != x else f"{x:.{digits}f}"
