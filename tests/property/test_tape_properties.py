"""The tape's windows equal the plain sums and extremes of what was pushed, whatever the history."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from virtuoso.detect.tape import Tape
from virtuoso.domain.bars import Bar

T0 = 1_736_121_600_000
second = st.one_of(st.none(), st.tuples(st.floats(1, 1000), st.floats(0, 50), st.floats(0, 1), st.floats(0, 20),
                                        st.floats(0, 5), st.floats(1, 1e6)))


def bar(i: int, v: tuple[float, ...]) -> Bar:
    close, vol, share, block, liq, oi = v
    block = min(block, vol)
    return Bar("X", T0 + i * 1000, 1, close, close, close, close, vol, vol * close, 1, vol * share, vol * (1 - share),
               oi, 0.0, liq, 0.0, False, block, vol / 2)


@settings(max_examples=60, deadline=None)
@given(st.lists(second, min_size=3, max_size=80), st.integers(1, 40))
def test_windows_are_the_sums_of_the_seconds_pushed(seconds: list, w: int) -> None:
    tape = Tape(1, capacity_s=64)
    pushed = []
    for i, v in enumerate(seconds):
        tape.push([[bar(i, v)] if v is not None else []])
        pushed.append(v)
    started = next((i for i, v in enumerate(pushed) if v is not None), None)
    if started is None:
        assert np.isnan(tape.now("price")).all()
        return
    n = len(pushed)
    if w >= n - started or w >= 64:
        return
    # Ex-block turnover over the last w seconds, from the raw values.
    def ex(v: tuple[float, ...]) -> float:
        close, vol, _, block, _, _ = v
        return (vol - min(block, vol)) * close
    expect = sum(ex(v) for v in pushed[n - w:] if v is not None)
    assert np.isclose(tape.change("turnover", w)[0], expect, rtol=1e-9, atol=1e-6)
    closes = []
    last = None
    for v in pushed:
        last = v[0] if v is not None else last
        closes.append(last)
    recent = [c for c in closes[-3:] if c is not None]
    recent = (recent + [recent[-1]] * 3)[:3] if len(recent) < 3 else recent
    assert np.isclose(tape.now("price")[0], np.median(sorted(recent)))
