"""The Bybit v5 parser: documented samples, snapshot/delta merging, and bad input counted, never raised."""

from __future__ import annotations

import math

from virtuoso.domain.events import BookSummary, Kline, Liquidation, Side, Ticker, Trade
from virtuoso.ingest.bybit.parse import BybitParser

TICKER_SNAPSHOT = {
    "topic": "tickers.BTCUSDT",
    "type": "snapshot",
    "data": {
        "symbol": "BTCUSDT", "tickDirection": "PlusTick", "price24hPcnt": "0.017103",
        "lastPrice": "17216.00", "prevPrice24h": "16926.50", "highPrice24h": "17281.50",
        "lowPrice24h": "16915.00", "prevPrice1h": "17238.00", "markPrice": "17217.33",
        "indexPrice": "17227.36", "openInterest": "68744.761", "openInterestValue": "1183601235.91",
        "turnover24h": "1570383121.943499", "volume24h": "91705.276", "nextFundingTime": "1673280000000",
        "fundingRate": "-0.000212", "bid1Price": "17215.50", "bid1Size": "84.489",
        "ask1Price": "17216.00", "ask1Size": "83.020",
    },
    "cs": 24987956059,
    "ts": 1673272861686,
}


def parse_one(parser: BybitParser, msg: object) -> list:
    return parser.parse(msg, 123)


def test_a_ticker_snapshot_becomes_a_full_ticker_with_exchange_and_receive_times() -> None:
    [t] = parse_one(BybitParser(), TICKER_SNAPSHOT)
    assert isinstance(t, Ticker)
    assert (t.symbol, t.ts_event_ms, t.ts_recv_ns) == ("BTCUSDT", 1673272861686, 123)
    assert t.last_price == 17216.0 and t.mark_price == 17217.33 and t.index_price == 17227.36
    assert t.open_interest == 68744.761 and t.open_interest_value == 1183601235.91
    assert t.funding_rate == -0.000212 and t.next_funding_ms == 1673280000000
    assert (t.bid_price, t.ask_price) == (17215.5, 17216.0)


def test_a_ticker_delta_changes_only_the_fields_it_carries() -> None:
    p = BybitParser()
    parse_one(p, TICKER_SNAPSHOT)
    delta = {"topic": "tickers.BTCUSDT", "type": "delta", "ts": 1673272861786,
             "data": {"symbol": "BTCUSDT", "openInterest": "69000.5", "lastPrice": "17220.5"}}
    [t] = parse_one(p, delta)
    assert t.open_interest == 69000.5 and t.last_price == 17220.5
    assert t.mark_price == 17217.33 and t.funding_rate == -0.000212
    assert t.ts_event_ms == 1673272861786


def test_a_delta_before_any_snapshot_waits_for_a_last_price_and_leaves_unknown_fields_nan() -> None:
    p = BybitParser()
    assert parse_one(p, {"topic": "tickers.ETHUSDT", "type": "delta", "ts": 1, "data": {"openInterest": "5"}}) == []
    [t] = parse_one(p, {"topic": "tickers.ETHUSDT", "type": "delta", "ts": 2, "data": {"lastPrice": "3000"}})
    assert t.open_interest == 5.0 and math.isnan(t.mark_price)
    assert p.malformed == 0


def test_a_bad_ticker_delta_is_counted_and_does_not_corrupt_the_merged_ticker() -> None:
    p = BybitParser()
    parse_one(p, TICKER_SNAPSHOT)
    bad = {"topic": "tickers.BTCUSDT", "type": "delta", "ts": 1673272861786, "data": {"lastPrice": "1", "markPrice": "nan"}}
    assert parse_one(p, bad) == []
    assert p.malformed == 1 and "out of range" in p.last_error
    [t] = parse_one(p, {"topic": "tickers.BTCUSDT", "type": "delta", "ts": 1673272861886, "data": {"fundingRate": "0.0001"}})
    assert t.last_price == 17216.0


def test_public_trades_keep_aggressor_side_size_and_id() -> None:
    msg = {"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": 1672304486868,
           "data": [{"T": 1672304486865, "s": "BTCUSDT", "S": "Buy", "v": "0.001", "p": "16578.50",
                     "L": "PlusTick", "i": "20f43950-d8dd-5b31-9112-a178eb6023af", "BT": False},
                    {"T": 1672304486866, "s": "BTCUSDT", "S": "Sell", "v": "2", "p": "16578.00",
                     "L": "MinusTick", "i": "x2", "BT": True}]}
    a, b = parse_one(BybitParser(), msg)
    assert isinstance(a, Trade) and a.side is Side.BUY and a.size == 0.001 and a.price == 16578.5
    assert a.ts_event_ms == 1672304486865 and a.trade_id.startswith("20f43950")
    assert b.side is Side.SELL and b.is_block_trade


def test_all_liquidation_buy_side_means_a_long_was_liquidated() -> None:
    msg = {"topic": "allLiquidation.ROSEUSDT", "type": "snapshot", "ts": 1739502303204,
           "data": [{"T": 1739502302929, "s": "ROSEUSDT", "S": "Sell", "v": "20000", "p": "0.04499"}]}
    [liq] = parse_one(BybitParser(), msg)
    assert isinstance(liq, Liquidation)
    assert (liq.side, liq.size, liq.price, liq.ts_event_ms) == (Side.SELL, 20000.0, 0.04499, 1739502302929)


def test_order_book_snapshot_then_delta_gives_top_of_book_and_depth() -> None:
    p = BybitParser()
    snap = {"topic": "orderbook.50.BTCUSDT", "type": "snapshot", "ts": 1672304484978,
            "data": {"s": "BTCUSDT", "b": [["16493.50", "0.006"], ["16493.00", "0.100"]],
                     "a": [["16611.00", "0.029"], ["16612.00", "0.213"]], "u": 18521288, "seq": 7961638724},
            "cts": 1672304484976}
    [b1] = parse_one(p, snap)
    assert isinstance(b1, BookSummary)
    assert (b1.best_bid, b1.best_ask) == (16493.5, 16611.0)
    assert math.isclose(b1.bid_depth_usd, 16493.5 * 0.006 + 16493.0 * 0.1)
    delta = {"topic": "orderbook.50.BTCUSDT", "type": "delta", "ts": 1672304485000,
             "data": {"s": "BTCUSDT", "b": [["16493.50", "0"], ["16494.00", "1"]], "a": [["16611.00", "0"]],
                      "u": 18521289, "seq": 7961638725}}
    [b2] = parse_one(p, delta)
    assert (b2.best_bid, b2.best_bid_size, b2.best_ask) == (16494.0, 1.0, 16612.0)


def test_an_order_book_delta_before_a_snapshot_is_counted_as_malformed() -> None:
    p = BybitParser()
    delta = {"topic": "orderbook.50.BTCUSDT", "type": "delta", "ts": 1, "data": {"s": "BTCUSDT", "b": [], "a": [], "u": 5}}
    assert parse_one(p, delta) == [] and p.malformed == 1


def test_klines_parse_with_interval_in_seconds() -> None:
    msg = {"topic": "kline.5.BTCUSDT", "type": "snapshot", "ts": 1672324988882,
           "data": [{"start": 1672324800000, "end": 1672325099999, "interval": "5", "open": "16649.5",
                     "close": "16677", "high": "16677", "low": "16608", "volume": "2.081",
                     "turnover": "34666.4005", "confirm": False, "timestamp": 1672324988882}]}
    [k] = parse_one(BybitParser(), msg)
    assert isinstance(k, Kline) and k.interval_s == 300 and k.close == 16677.0 and not k.confirm


def test_subscribe_acks_and_pongs_are_control_frames_not_errors() -> None:
    p = BybitParser()
    parse_one(p, {"success": True, "ret_msg": "", "conn_id": "x", "req_id": "1", "op": "subscribe"})
    parse_one(p, {"success": True, "ret_msg": "pong", "conn_id": "x", "op": "ping"})
    assert (p.control, p.malformed, p.unknown) == (2, 0, 0)


def test_a_symbol_with_markup_is_rejected_as_malformed() -> None:
    p = BybitParser()
    msg = {"topic": 'publicTrade.<img src="http://x">', "ts": 1, "data": []}
    assert parse_one(p, msg) == [] and p.malformed == 1


def test_unknown_topics_and_non_objects_are_counted_and_skipped() -> None:
    p = BybitParser()
    assert parse_one(p, {"topic": "insurance.USDT", "data": []}) == []
    assert parse_one(p, [1, 2]) == []
    assert parse_one(p, "text") == []
    assert p.unknown == 1 and p.malformed == 2
    assert p.stats()["messages"] == 3


def _trade_msg(price: object, size: object = "0.5") -> dict:
    return {"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": 1672304486868,
            "data": [{"T": 1672304486865, "s": "BTCUSDT", "S": "Buy", "v": size, "p": price, "i": "x", "BT": False}]}


def test_remembered_decimal_strings_give_exactly_what_float_gives_and_the_memory_is_bounded(monkeypatch) -> None:
    import virtuoso.ingest.bybit.parse as parse_mod

    monkeypatch.setattr(parse_mod, "_FLOAT_CACHE_MAX", 8)
    parser = BybitParser()
    prices = [f"{16000 + i * 0.5:.1f}" for i in range(20)]
    for _ in range(2):  # the second pass reads remembered values
        for p in prices:
            (t,) = parser.parse(_trade_msg(p, "0.001"), 1)
            assert t.price == float(p) and t.size == 0.001
    assert len(parser._floats) <= 8


def test_a_remembered_bad_number_is_still_rejected_every_time() -> None:
    parser = BybitParser()
    for _ in range(3):
        assert parser.parse(_trade_msg("0"), 1) == []
        assert parser.parse(_trade_msg("nan"), 1) == []
        assert parser.parse(_trade_msg(["1"]), 1) == []  # unhashable: malformed, not a crash
    assert parser.malformed == 9
