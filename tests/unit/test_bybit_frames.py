"""Raw frames: the documented samples take the fast path, and every near miss reads as its dict does."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from virtuoso.domain.events import Ticker
from virtuoso.ingest.bybit import parse as parse_module
from virtuoso.ingest.bybit.frames import TICKER_ATTRS, Envelope, decode_frame
from virtuoso.ingest.bybit.parse import BybitParser

TRADES = {"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": 1672304486868,
          "data": [{"T": 1672304486865, "s": "BTCUSDT", "S": "Buy", "v": "0.001", "p": "16578.50", "L": "PlusTick",
                    "i": "20f43950-d8dd-5b31-9112-a178eb6023af", "BT": False}]}
TICKER = {"topic": "tickers.BTCUSDT", "type": "snapshot", "ts": 1673272861686, "cs": 24987956059,
          "data": {"symbol": "BTCUSDT", "tickDirection": "PlusTick", "lastPrice": "17216.00", "markPrice": "17217.33",
                   "indexPrice": "17227.36", "openInterest": "68744.761", "openInterestValue": "1183601235.91",
                   "turnover24h": "1570383121.943499", "volume24h": "91705.276", "nextFundingTime": "1673280000000",
                   "fundingRate": "-0.000212", "bid1Price": "17215.50", "bid1Size": "84.489", "ask1Price": "17216.00",
                   "ask1Size": "83.020"}}
BOOK = {"topic": "orderbook.50.BTCUSDT", "type": "snapshot", "ts": 1672304484978, "cts": 1672304484976,
        "data": {"s": "BTCUSDT", "b": [["16493.50", "0.006"], ["16493.00", "0.100"]],
                 "a": [["16611.00", "0.029"], ["16612.00", "0.213"]], "u": 18521288, "seq": 7961638724}}


def both_ways(messages: list[dict[str, Any]]) -> tuple[BybitParser, list, BybitParser, list]:
    by_dict, by_frame = BybitParser(), BybitParser()
    want = [by_dict.parse(m, 9) for m in messages]
    got = [by_frame.parse(decode_frame(orjson.dumps(m)), 9) for m in messages]
    return by_dict, want, by_frame, got


def test_the_ticker_attribute_order_is_the_ticker_event_field_order() -> None:
    assert Ticker._fields[3:] == TICKER_ATTRS


@pytest.mark.parametrize("sample", [TRADES, TICKER, BOOK], ids=["trades", "ticker", "book"])
def test_a_documented_sample_as_a_frame_takes_the_fast_path_with_the_same_events(sample, monkeypatch) -> None:
    p = BybitParser()
    want = p.parse(copy.deepcopy(sample), 9)  # the first message of a topic learns its route
    delta = copy.deepcopy(sample)
    delta["type"] = "delta" if sample is not TRADES else "snapshot"

    class NoDictPath:
        @staticmethod
        def loads(_raw: Any) -> Any:
            raise AssertionError("the frame went the dict path")

    monkeypatch.setattr(parse_module, "orjson", NoDictPath)
    got = p.parse(decode_frame(orjson.dumps(delta)), 9)
    assert got == want and got and p.malformed == 0


NEAR_MISSES = [
    (TRADES, ("data", 0, "BT"), "true"), (TRADES, ("data", 0, "BT"), None), (TRADES, ("data", 0, "T"), "1e3"),
    (TRADES, ("data", 0, "T"), "1672304486865"), (TRADES, ("data", 0, "T"), 1672304486865.0),
    (TRADES, ("data", 0, "T"), True), (TRADES, ("data", 0, "p"), " 1.5"), (TRADES, ("data", 0, "p"), "1_000"),
    (TRADES, ("data", 0, "p"), "Infinity"), (TRADES, ("data", 0, "v"), "-0"), (TRADES, ("data", 0, "v"), 2),
    (TRADES, ("data", 0, "s"), None), (TRADES, ("data", 0, "s"), "ETHUSDT"), (TRADES, ("data", 0, "i"), 77),
    (TRADES, ("data", 0, "i"), "x" * 80), (TRADES, ("data", 0, "S"), "buy"), (TRADES, ("data",), {"T": 1}),
    (TICKER, ("data", "lastPrice"), ""), (TICKER, ("data", "lastPrice"), None), (TICKER, ("data", "markPrice"), "nan"),
    (TICKER, ("data", "bid1Size"), "Infinity"), (TICKER, ("data", "fundingRate"), "-Infinity"),
    (TICKER, ("data", "fundingRate"), "-0"), (TICKER, ("data", "openInterest"), "-1"),
    (TICKER, ("data", "nextFundingTime"), "1e12"), (TICKER, ("data", "symbol"), None), (TICKER, ("ts",), "1673272861686"),
    (TICKER, ("ts",), True), (TICKER, ("type",), 3), (TICKER, ("data",), [1, 2]),
    (BOOK, ("data", "b", 0, 1), "Infinity"), (BOOK, ("data", "b", 0, 1), "0"), (BOOK, ("data", "a", 0, 0), "0"),
    (BOOK, ("data", "a", 0), ["1", "2", "3"]), (BOOK, ("data", "u"), "5"), (BOOK, ("data", "u"), 1),
    (BOOK, ("data", "b"), None), (BOOK, ("data", "s"), "ETHUSDT"), (BOOK, ("type",), "other"), (BOOK, ("ts",), 0),
]


@pytest.mark.parametrize(("sample", "path", "value"), NEAR_MISSES)
def test_a_near_miss_reads_the_same_as_a_frame_and_as_a_dict(sample, path, value) -> None:
    bad = copy.deepcopy(sample)
    target = bad
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    follow = copy.deepcopy(sample)
    follow["type"] = "delta" if sample is not TRADES else "snapshot"
    # The sample first (so the fast path knows the topic), the near miss, then a good delta.
    by_dict, want, by_frame, got = both_ways([sample, bad, follow])
    assert got == want and by_frame.stats() == by_dict.stats()


def test_a_frame_whose_topic_appears_twice_reads_as_its_dict_does() -> None:
    # The one-pass decoder is picked from the first topic's letters; the last one is the topic.
    ticker = orjson.dumps(TICKER)
    raw = ticker[:-1] + b',"topic":"publicTrade.BTCUSDT"}'
    p_dict, p_frame = BybitParser(), BybitParser()
    for p in (p_dict, p_frame):
        p.parse(copy.deepcopy(TRADES), 9)  # learn the trade topic's route
    assert p_frame.parse(decode_frame(raw), 9) == p_dict.parse(orjson.loads(raw), 9) == []
    assert p_frame.stats() == p_dict.stats() and p_dict.malformed == 1


def test_a_frame_that_does_not_start_with_its_topic_still_takes_a_fast_path() -> None:
    reordered = {"ts": TICKER["ts"], "type": "snapshot", "data": TICKER["data"], "topic": TICKER["topic"]}
    p = BybitParser()
    want = p.parse(copy.deepcopy(TICKER), 9)
    assert p.parse(decode_frame(orjson.dumps(reordered)), 9) == want and p.malformed == 0


@pytest.mark.parametrize("sample", [TRADES, TICKER, BOOK], ids=["trades", "ticker", "book"])
def test_text_and_bytes_frames_are_both_decoded_in_one_pass(sample) -> None:
    raw = orjson.dumps(sample)
    as_bytes, as_text = decode_frame(raw), decode_frame(raw.decode())
    assert type(as_bytes.envelope) is type(as_text.envelope) is not Envelope
    assert as_bytes.envelope == as_text.envelope
