"""Properties of bar aggregation: volume is conserved between trades, 1-second and 1-minute bars."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from virtuoso.domain.events import Side
from tests.state_factories import SYMBOL, T0_MS, state, trade

trades_st = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=400_000),  # ms offset (several minutes, with gaps)
        st.floats(min_value=1.0, max_value=1_000.0, allow_nan=False),
        st.floats(min_value=0.001, max_value=50.0, allow_nan=False),
        st.booleans(),
    ),
    min_size=1,
    max_size=200,
)


@settings(max_examples=150, deadline=None)
@given(trades_st)
def test_volume_is_conserved_between_trades_seconds_and_minutes(rows):
    rows = sorted(rows, key=lambda r: r[0])
    closed_1m = []
    ms = state(retention_1s_s=3_600, retention_1m_min=600, on_bar_1m=closed_1m.append)
    for off, price, size, is_buy in rows:
        ms.apply(trade(T0_MS + off, price, size, Side.BUY if is_buy else Side.SELL))
    end = T0_MS + rows[-1][0]
    ms.advance_to(end - end % 60_000 + 60_000)  # close the last minute

    total = sum(r[2] for r in rows)
    bars_1s, bars_1m = ms.bars_1s(SYMBOL), ms.bars_1m(SYMBOL)
    assert bars_1m == closed_1m
    assert sum(b.volume for b in bars_1s) == pytest.approx(total)
    assert sum(b.volume for b in bars_1m) == pytest.approx(total)
    assert sum(b.buy_volume for b in bars_1m) == pytest.approx(sum(r[2] for r in rows if r[3]))
    assert sum(b.trade_count for b in bars_1m) == len(rows)
    for m in bars_1m:
        inside = [b for b in bars_1s if m.start_ms <= b.start_ms < m.end_ms]
        first_sec = T0_MS + rows[0][0] - (T0_MS + rows[0][0]) % 1000
        assert len(inside) == (m.end_ms - max(m.start_ms, first_sec)) // 1000  # contiguous seconds
        assert m.volume == pytest.approx(sum(b.volume for b in inside))
        assert m.high == max(b.high for b in inside) and m.low == min(b.low for b in inside)
    for b in bars_1s + bars_1m:
        assert b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close)
    starts = [b.start_ms for b in bars_1s]
    assert starts == list(range(starts[0], starts[-1] + 1000, 1000))
