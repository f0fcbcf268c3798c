"""The parser never raises, whatever JSON it is fed, every message is accounted for, and a raw frame
reads exactly as its decoded dict."""

from __future__ import annotations

import math

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from virtuoso.ingest.bybit.frames import decode_frame
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


# Values as Bybit sends them, mostly, and the near misses a fast decoder could read differently from
# Python's float()/int(): spaces, underscores, signs, exponents, NaN, negative zero, wrong types.
# Valid values are drawn four times as often, so whole messages often take the fast path.
valid_decimal = st.decimals(min_value="0.0001", max_value=10**6, places=4).map(str)
near_miss = st.one_of(
    st.sampled_from(["1.5", " 1.5", "1.5 ", "1_000", "+5", "1e3", "1E-3", "nan", "Infinity", "-0", "-2", "0",
                     "", "0x10", ".5", "1.", "00012", "1e400"]),
    st.floats(allow_nan=False, allow_infinity=False), st.integers(-3, 10**6), st.booleans(), st.none(),
)
decimals = st.one_of(valid_decimal, valid_decimal, valid_decimal, valid_decimal, near_miss)
valid_stamp = st.integers(1_736_121_600_000, 1_736_121_700_000)
stamps = st.one_of(valid_stamp, valid_stamp, valid_stamp, valid_stamp, st.sampled_from(
    ["1736121600000", "1e12", 1.7e12, 1736121600000.5, True, None, 0, -1, 10**15]))
trade_rows = st.fixed_dictionaries(
    {"T": stamps, "S": st.sampled_from(["Buy", "Sell", "Buy", "Sell", "buy", 1]), "v": decimals, "p": decimals},
    optional={"s": st.sampled_from(["BTCUSDT", "BTCUSDT", "ETHUSDT", None, 5]),
              "i": st.one_of(st.text(max_size=8), st.text(max_size=8), st.text(min_size=60, max_size=70), st.integers()),
              "BT": st.sampled_from([True, False, True, False, "true", 1, None]), "L": st.just("PlusTick")},
)
ticker_data = st.dictionaries(
    st.sampled_from(["symbol", "lastPrice", "markPrice", "indexPrice", "openInterest", "openInterestValue",
                     "fundingRate", "nextFundingTime", "volume24h", "turnover24h", "bid1Price", "bid1Size",
                     "ask1Price", "ask1Size", "tickDirection"]),
    decimals, max_size=14,
)
level = st.tuples(decimals, decimals).map(list)
levels = st.lists(st.one_of(level, level, level, st.lists(decimals, max_size=3)), max_size=4)
book_data = st.fixed_dictionaries({}, optional={"s": st.sampled_from(["BTCUSDT", "BTCUSDT", "ETHUSDT", None]),
                                                "b": levels, "a": levels, "u": st.sampled_from([1, 2, 3, 9, "4", 5.0, None])})
frame_like = st.one_of(
    st.fixed_dictionaries({"topic": st.just("publicTrade.BTCUSDT"), "ts": stamps,
                           "data": st.one_of(st.lists(trade_rows, max_size=3), st.lists(trade_rows, max_size=3), json_values)}),
    st.fixed_dictionaries({"topic": st.just("tickers.BTCUSDT"), "type": st.sampled_from(["snapshot", "delta", "delta", 3]),
                           "ts": stamps, "data": st.one_of(ticker_data, ticker_data, json_values)}),
    st.fixed_dictionaries({"topic": st.just("orderbook.50.BTCUSDT"), "type": st.sampled_from(["snapshot", "delta", "delta", "x"]),
                           "ts": stamps, "data": st.one_of(book_data, book_data, json_values)}),
    bybit_like,
)


@settings(max_examples=600, deadline=None)
@given(st.lists(frame_like, min_size=1, max_size=12))
def test_a_raw_frame_gives_the_same_events_and_counters_as_its_decoded_dict(messages: list[object]) -> None:
    # Each topic's first message takes the dict path (it learns the route); repeat the sequence so
    # the fast path sees every message too, against the same merged ticker and book state.
    raws = [orjson.dumps(m) for m in messages if _encodable(m)] * 2
    by_dict, by_frame = BybitParser(), BybitParser()
    for raw in raws:
        frame = decode_frame(raw)
        assert frame is not None
        want, got = by_dict.parse(orjson.loads(raw), 7), by_frame.parse(frame, 7)
        assert got == want and [type(e) for e in got] == [type(e) for e in want]
    assert by_frame.stats() == by_dict.stats()


def _encodable(m: object) -> bool:
    try:
        orjson.dumps(m)
        return True
    except TypeError:  # integers beyond 64 bits: not JSON any venue sends
        return False
