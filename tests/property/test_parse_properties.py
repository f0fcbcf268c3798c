"""The parser never raises, whatever JSON it is fed, and every message is accounted for."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from virtuoso.ingest.bybit.parse import BybitParser

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=25,
)
topics = st.sampled_from(["tickers", "publicTrade", "allLiquidation", "orderbook.50", "kline.1", "liquidation", "x"])
symbols = st.sampled_from(["BTCUSDT", "ETHUSDT", "<b>", "", "btc"])
numberish = st.one_of(st.text(max_size=8), st.floats(), st.integers(), st.none(), st.sampled_from(["1.5", "0", "-2", "inf"]))

bybit_like = st.fixed_dictionaries(
    {
        "topic": st.builds(lambda t, s: f"{t}.{s}", topics, symbols),
        "type": st.sampled_from(["snapshot", "delta", "other"]),
        "ts": st.one_of(st.integers(min_value=-5, max_value=2 * 10**12), st.text(max_size=5)),
        "data": st.one_of(
            json_values,
            st.lists(st.dictionaries(st.sampled_from(["T", "s", "S", "v", "p", "i"]), numberish), max_size=3),
            st.dictionaries(st.sampled_from(["symbol", "lastPrice", "openInterest", "s", "b", "a", "u"]), numberish | json_values),
        ),
    }
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(json_values, bybit_like), max_size=8))
def test_any_json_is_parsed_or_counted_never_raised(messages: list[object]) -> None:
    p = BybitParser()
    for m in messages:
        events = p.parse(m, 1)
        for e in events:
            for name in ("price", "size", "last_price", "best_bid"):
                v = getattr(e, name, None)
                if v is not None:
                    assert math.isfinite(v) and v > 0
    s = p.stats()
    assert s["messages"] == len(messages)
    assert s["malformed"] + s["unknown"] + s["control"] <= len(messages)
