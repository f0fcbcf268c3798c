"""The universe (instruments-info listing, start-up checks) and the subscription plan, pure."""

from __future__ import annotations

import pytest

from virtuoso.config import MAX_TOPICS_PER_CONNECTION, SettingsError, load_settings
from virtuoso.domain.clock import SystemClock
from virtuoso.ingest.bybit.plan import SubscriptionPlan
from virtuoso.ingest.bybit.topics import MAX_ARGS_PER_REQUEST, chunked, topic_symbol
from virtuoso.ingest.bybit.universe import check_symbols, diff, listing_from_items
from virtuoso.ingest.simulator import SimulatorSource, profile_for, simulated_universe


def item(symbol: str, status: str = "Trading", contract: str = "LinearPerpetual", quote: str = "USDT") -> dict:
    return {"symbol": symbol, "status": status, "contractType": contract, "quoteCoin": quote, "settleCoin": quote}


def test_listing_keeps_usdt_perpetuals_that_trade_and_knows_every_name():
    listing = listing_from_items([item("BTCUSDT"), item("BTCPERP", quote="USDC"), item("NEWUSDT", "PreLaunch"),
                                  item("BTCUSDT-27MAR26", contract="LinearFutures"), {"bad": 1}, item("ETHUSDT")])
    assert listing.followed == ("BTCUSDT", "ETHUSDT")
    assert listing.status["NEWUSDT"] == "PreLaunch" and "BTCPERP" in listing.status
    with pytest.raises(SettingsError, match=r"not a Bybit linear contract: NOPEUSDT.*not trading now: NEWUSDT \(PreLaunch\)"):
        check_symbols(["BTCUSDT", "NOPEUSDT", "NEWUSDT"], listing, "here")
    check_symbols(["BTCUSDT", "BTCPERP"], listing, "here")  # a list may name any linear contract that trades
    assert diff(["BTCUSDT", "OLDUSDT"], listing) == (["ETHUSDT"], ["OLDUSDT"])


def test_the_plan_caps_topics_per_connection_and_keeps_a_symbols_topics_together():
    plan = SubscriptionPlan(topics_per_connection=10)
    plan.focus = {"AUSDT"}
    plan.add(["AUSDT", "BUSDT", "CUSDT", "DUSDT"])
    assert [len(c) for c in plan.connections] == [10, 3]  # A (4) + B + C, then D
    assert plan.connections[1][:3] == ["tickers.DUSDT", "publicTrade.DUSDT", "allLiquidation.DUSDT"]
    gone = plan.remove(["BUSDT"])
    assert gone == {0: ["tickers.BUSDT", "publicTrade.BUSDT", "allLiquidation.BUSDT"]}
    add, drop = plan.set_focus(["DUSDT"])
    assert drop == {0: ["orderbook.50.AUSDT"]} and add == {1: ["orderbook.50.DUSDT"]}
    assert plan.symbols() == ["AUSDT", "CUSDT", "DUSDT"]


def test_500_symbols_fit_bybits_limits():
    plan = SubscriptionPlan(topics_per_connection=200)
    names = simulated_universe()
    plan.focus = set(names[:20])
    plan.add(names)
    assert len(plan.topics()) == 3 * 500 + 20 and len(plan.connections) == 8
    assert all(len(c) <= 200 and len(str(c)) < 21_000 for c in plan.connections)
    assert all(len(req) <= MAX_ARGS_PER_REQUEST for c in plan.connections for req in chunked(c))
    assert MAX_TOPICS_PER_CONNECTION * 48 <= 21_000


def test_symbols_all_and_its_limits_in_settings():
    s = load_settings({"VIRTUOSO_SYMBOLS": "all"}, env_file=None)
    assert s.follows_all and s.symbols == ["ALL"]
    with pytest.raises(SettingsError, match="cannot be combined"):
        load_settings({"VIRTUOSO_SYMBOLS": "all,BTCUSDT"}, env_file=None)
    with pytest.raises(SettingsError, match="VIRTUOSO_BYBIT__TOPICS_PER_CONNECTION"):
        load_settings({"VIRTUOSO_BYBIT__TOPICS_PER_CONNECTION": "5000"}, env_file=None)
    b = load_settings({"VIRTUOSO_BYBIT__ORDERBOOK_SYMBOLS": "btcusdt, ethusdt"}, env_file=None).bybit
    assert b.orderbook_symbols == ["BTCUSDT", "ETHUSDT"]


def test_the_simulator_simulates_all_with_a_spread_of_liquidity_and_names_what_it_can_simulate():
    src = SimulatorSource(load_settings({"VIRTUOSO_SYMBOLS": "all", "VIRTUOSO_BYBIT__ORDERBOOK_TOP_N": "7"}, env_file=None),
                          SystemClock(), warmup_min=0)
    symbols = src.resolve_symbols()
    assert len(symbols) == 500 and symbols[0] == "BTCUSDT"
    turnover = [profile_for(s).turnover_usd_day for s in symbols]
    assert turnover[0] > 1e9 and turnover[-1] < 1e7 and turnover[0] / turnover[-1] > 300
    assert sum(src.market._book_on) == 7
    with pytest.raises(SettingsError, match=r"cannot simulate NOPEUSDT; it simulates 500 symbols: BTCUSDT, ETHUSDT"):
        SimulatorSource(load_settings({"VIRTUOSO_SYMBOLS": "BTCUSDT,NOPEUSDT"}, env_file=None), SystemClock())
