"""The pipeline folds a message's events with ``MarketState.apply_many``; the state tests mostly call
``apply``. Both must be one fold: any events, cut into any messages, give the same state."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from virtuoso.domain.events import Side
from tests.state_factories import T0_MS, book, liquidation, state, ticker, trade

WATCHED = ("BTCUSDT", "ETHUSDT")
SYMBOLS = WATCHED + ("XRPUSDT",)  # the last is not watched: counted and dropped

event_st = st.tuples(
    st.sampled_from(("trade", "trade", "trade", "ticker", "liquidation", "book")),
    st.sampled_from(SYMBOLS),
    st.integers(min_value=0, max_value=200_000),  # ms after T0: a few minutes, with gaps
    st.floats(min_value=1.0, max_value=1_000.0, allow_nan=False),
    st.floats(min_value=0.001, max_value=50.0, allow_nan=False),
    st.booleans(),
)


def _event(row):
    kind, symbol, off, price, size, buy = row
    ts, side = T0_MS + off, Side.BUY if buy else Side.SELL
    if kind == "trade":
        return trade(ts, price, size, side, symbol=symbol, trade_id=f"t{off}")
    if kind == "ticker":
        return ticker(ts, price, open_interest=size * 1_000, symbol=symbol)
    if kind == "liquidation":
        return liquidation(ts, price, size, side, symbol=symbol)
    return book(ts, bid=price - 0.5, ask=price + 0.5, symbol=symbol)


def _observed(ms, closed):
    """Everything a reader can see, as text (NaN never equals itself; its repr does)."""
    return repr((
        [ms.bars_1s(s) for s in WATCHED],
        [ms.bars_1m(s) for s in WATCHED],
        [ms.current_bar_1m(s) for s in WATCHED],
        ms.snapshots(),
        ms.health(),
        closed,
    ))


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(event_st, min_size=1, max_size=150),
    late=st.lists(st.integers(min_value=0, max_value=149), max_size=10),  # events moved out of order
    cuts=st.lists(st.integers(min_value=0, max_value=150), max_size=20),  # message boundaries
)
def test_apply_many_on_any_batching_gives_the_state_of_apply_one_by_one(rows, late, cuts):
    rows = sorted(rows, key=lambda r: r[2])
    for i in late:  # an earlier event arriving after later ones
        if i < len(rows):
            rows.append(rows.pop(i))
    events = [_event(r) for r in rows]
    end_ms = T0_MS + max(r[2] for r in rows) + 61_000

    one_closed: list = []
    one = state(WATCHED, retention_1s_s=300, retention_1m_min=60, on_bar_1m=one_closed.append)
    for e in events:
        one.apply(e)
    one.advance_to(end_ms)

    many_closed: list = []
    many = state(WATCHED, retention_1s_s=300, retention_1m_min=60, on_bar_1m=many_closed.append)
    bounds = sorted({0, len(events), *(c for c in cuts if c <= len(events))})
    for a, b in zip(bounds, bounds[1:]):
        assert many.apply_many(events[a:b]) == ()
    many.advance_to(end_ms)

    assert _observed(many, many_closed) == _observed(one, one_closed)


def test_a_trade_folded_by_apply_many_keeps_its_side():
    """The buy/sell swap that once passed every state test: sides reach the bar's volumes."""
    ms = state()
    ms.apply_many([trade(T0_MS, 100.0, 2.0, Side.BUY), trade(T0_MS + 10, 100.0, 0.5, Side.SELL),
                   trade(T0_MS + 20, 100.0, 1.0, Side.BUY)])
    ms.advance_to(T0_MS + 1_000)
    (bar,) = ms.bars_1s("BTCUSDT")
    assert bar.volume == 3.5 and bar.buy_volume == 3.0
