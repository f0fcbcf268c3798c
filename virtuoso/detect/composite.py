"""Composite manipulation score per symbol (pure).

The strongest detector's score, plus 10 for every other detector at or above its threshold
(agreeing signals are more telling than one loud one), capped at 100. Levels below half the
threshold add nothing, so a quiet symbol scores near zero.
"""

from __future__ import annotations

from typing import Mapping

from virtuoso.detect.levels import score_for

AGREEMENT_BONUS = 10.0


def composite_score(levels: Mapping[object, float]) -> float:
    active = sorted((lv for lv in levels.values() if lv >= 0.5), reverse=True)
    if not active:
        return 0.0
    bonus = AGREEMENT_BONUS * sum(1 for lv in active[1:] if lv >= 1.0)
    return round(min(100.0, score_for(active[0]) + bonus), 1)
