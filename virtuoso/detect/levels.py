"""Turning a detector's level into severity and score, and the reading a detector hands back.

A level is "measured value over its threshold": 1.0 is exactly at the threshold. Severity and
score depend on the level only, so every detector grades the same way: watch from 1x, high from
1.6x, critical from 2.5x; score 50 at the threshold, 75 at twice it, 100 at four times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from virtuoso.domain.alerts import AlertKind, Severity

HIGH_LEVEL = 1.6
CRITICAL_LEVEL = 2.5
# An early reading (the last half-minute or minute) opens a watch at most: high needs the longer
# window of the same detector (or a pump's dump) to confirm it.
EARLY_MAX_LEVEL = 1.5


def severity_for(level: float) -> Severity:
    if level >= CRITICAL_LEVEL:
        return Severity.CRITICAL
    if level >= HIGH_LEVEL:
        return Severity.HIGH
    if level >= 1.0:
        return Severity.WATCH
    return Severity.INFO


def score_for(level: float) -> float:
    """0-100, monotone in the level; 50 at the threshold."""
    if not level > 0:
        return 0.0
    return max(0.0, min(100.0, 50.0 + 25.0 * math.log2(level)))


@dataclass(frozen=True, slots=True)
class Reading:
    """One detector's view of one symbol at one time."""

    kind: AlertKind
    level: float
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def severity(self) -> Severity:
        return severity_for(self.level)

    @property
    def score(self) -> float:
        return score_for(self.level)


def rounded(**values: Any) -> dict[str, Any]:
    """Evidence values rounded for people (and JSON: NaN becomes None)."""
    out: dict[str, Any] = {}
    for k, v in values.items():
        x = float(v)
        out[k] = round(x, 4) if math.isfinite(x) else None
    return out
