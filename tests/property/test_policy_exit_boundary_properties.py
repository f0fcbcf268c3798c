"""The hysteresis exit boundary of the event policy, for any exit ratio: an event ends once every
reading has stayed *below* ``exit_ratio`` of its alarm for END_HOLD_S (docs: "stayed below"), so a
reading exactly at the ratio keeps it open and the next float under it does not."""

from __future__ import annotations

import math

from hypothesis import given, settings, strategies as st

from virtuoso.alerting.policy import END_HOLD_S, EventBook
from virtuoso.config import AlertPolicySettings
from virtuoso.domain.alerts import AlertKind, Change

T0 = 1_700_000_040_000
ratios = st.floats(min_value=0.05, max_value=1.0, allow_nan=False, exclude_min=False)


def _changes(ratio: float, level_after: float, seconds: int) -> list[tuple[int, Change]]:
    book = EventBook(AlertPolicySettings(exit_ratio=ratio))
    out = []
    for i in range(seconds + 1):
        level = 1.5 if i == 0 else level_after
        ch = book.step("BTCUSDT", {AlertKind.PRICE_MOVE: level}, T0 + i * 1000)
        if ch is not None:
            out.append((i, ch.change))
    return out


@settings(max_examples=100, deadline=None)
@given(ratios)
def test_a_reading_exactly_at_the_exit_ratio_keeps_the_event_open(ratio):
    assert _changes(ratio, ratio, END_HOLD_S + 5) == [(0, Change.NEW)]


@settings(max_examples=100, deadline=None)
@given(ratios)
def test_the_next_float_below_the_exit_ratio_ends_it_exactly_end_hold_s_after_the_last_active_second(ratio):
    below = math.nextafter(ratio, 0.0)
    assert _changes(ratio, below, END_HOLD_S + 5) == [(0, Change.NEW), (END_HOLD_S, Change.ENDED)]
