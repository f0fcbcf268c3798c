"""Test data factories for market state, store and pipeline tests: sensible defaults, set only what matters."""

from __future__ import annotations

from typing import Any

from virtuoso.domain.alerts import Alert, AlertKind, Severity, episode_id
from virtuoso.domain.bars import Bar
from virtuoso.domain.events import BookSummary, Liquidation, Side, Ticker, Trade
from virtuoso.state.market import MarketState

T0_MS = 1_700_000_040_000  # a whole minute
SYMBOL = "BTCUSDT"


def trade(ts_ms: int = T0_MS, price: float = 100.0, size: float = 1.0, side: Side = Side.BUY,
          symbol: str = SYMBOL, trade_id: str = "t") -> Trade:
    return Trade(symbol, ts_ms, ts_ms * 1_000_000, price, size, side, trade_id)


def ticker(ts_ms: int = T0_MS, last_price: float = 100.0, open_interest: float = 1_000.0,
           funding_rate: float = 0.0001, symbol: str = SYMBOL, **kw: Any) -> Ticker:
    fields: dict[str, Any] = dict(
        mark_price=last_price, index_price=last_price, open_interest_value=open_interest * last_price,
        next_funding_ms=ts_ms + 3_600_000, volume_24h=10_000.0, turnover_24h=1e6,
        bid_price=last_price - 0.5, bid_size=1.0, ask_price=last_price + 0.5, ask_size=1.0,
    )
    fields.update(kw)
    return Ticker(symbol=symbol, ts_event_ms=ts_ms, ts_recv_ns=ts_ms * 1_000_000, last_price=last_price,
                  open_interest=open_interest, funding_rate=funding_rate, **fields)


def liquidation(ts_ms: int = T0_MS, price: float = 100.0, size: float = 1.0, side: Side = Side.BUY,
                symbol: str = SYMBOL) -> Liquidation:
    return Liquidation(symbol, ts_ms, ts_ms * 1_000_000, price, size, side)


def book(ts_ms: int = T0_MS, bid: float = 99.5, ask: float = 100.5, symbol: str = SYMBOL) -> BookSummary:
    return BookSummary(symbol, ts_ms, ts_ms * 1_000_000, bid, 2.0, ask, 3.0, 1e6, 1e6)


def bar_1m(start_ms: int = T0_MS, close: float = 100.0, volume: float = 10.0, symbol: str = SYMBOL,
           open_interest: float = 1_000.0, **kw: Any) -> Bar:
    fields: dict[str, Any] = dict(open=close, high=close, low=close, close=close, volume=volume,
                                  turnover=volume * close, trade_count=int(volume > 0),
                                  open_interest=open_interest, funding_rate=0.0001)
    fields.update(kw)
    return Bar(symbol=symbol, start_ms=start_ms, interval_s=60, **fields)


def alert(ts_ms: int = T0_MS, symbol: str = SYMBOL, kind: AlertKind = AlertKind.VOLUME_SPIKE,
          severity: Severity = Severity.WATCH, score: float = 55.0, **evidence: Any) -> Alert:
    return Alert(id=episode_id(symbol, kind.value, ts_ms), symbol=symbol, kind=kind, severity=severity,
                 score=score, ts_event_ms=ts_ms, evidence=evidence or {"ratio": 6.1, "threshold": 5.0},
                 message=f"{kind.value} on {symbol}")


def state(symbols: tuple[str, ...] = (SYMBOL,), retention_1s_s: int = 600, retention_1m_min: int = 180,
          **kw: Any) -> MarketState:
    return MarketState(list(symbols), retention_1s_s=retention_1s_s, retention_1m_min=retention_1m_min, **kw)


def ws_trade(symbol: str, ts_ms: int, price: float, size: float, side: str = "Buy", i: int = 0) -> dict[str, Any]:
    """A Bybit v5 publicTrade message as the venue sends it."""
    return {"topic": f"publicTrade.{symbol}", "type": "snapshot", "ts": ts_ms,
            "data": [{"T": ts_ms, "s": symbol, "S": side, "v": str(size), "p": str(price), "L": "PlusTick",
                      "i": f"id-{symbol}-{i}", "BT": False}]}


def ws_ticker(symbol: str, ts_ms: int, price: float, oi: float, snapshot: bool = True) -> dict[str, Any]:
    """A Bybit v5 tickers message (snapshot, or a delta carrying only price and OI)."""
    if not snapshot:
        return {"topic": f"tickers.{symbol}", "type": "delta", "cs": 2, "ts": ts_ms,
                "data": {"symbol": symbol, "lastPrice": str(price), "openInterest": str(oi)}}
    p = str(price)
    return {"topic": f"tickers.{symbol}", "type": "snapshot", "cs": 1, "ts": ts_ms,
            "data": {"symbol": symbol, "tickDirection": "PlusTick", "price24hPcnt": "0.01", "lastPrice": p,
                     "prevPrice24h": p, "highPrice24h": p, "lowPrice24h": p, "prevPrice1h": p, "markPrice": p,
                     "indexPrice": p, "openInterest": str(oi), "openInterestValue": str(oi * price),
                     "turnover24h": "1000000", "volume24h": "10000", "nextFundingTime": str(ts_ms + 3_600_000),
                     "fundingRate": "0.0001", "bid1Price": p, "bid1Size": "1", "ask1Price": p, "ask1Size": "1"}}


def ws_liquidation(symbol: str, ts_ms: int, price: float, size: float, side: str = "Buy") -> dict[str, Any]:
    """A Bybit v5 allLiquidation message."""
    return {"topic": f"allLiquidation.{symbol}", "type": "snapshot", "ts": ts_ms,
            "data": [{"T": ts_ms, "s": symbol, "S": side, "v": str(size), "p": str(price)}]}
