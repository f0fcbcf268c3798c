"""Bybit v5 public linear topic names for a watchlist, and how they are spread over connections.

Reference: https://bybit-exchange.github.io/docs/v5/websocket/public/ticker (and the sibling
pages for publicTrade, allLiquidation and orderbook). The older ``liquidation`` topic is retired;
``allLiquidation`` replaces it. Limits (https://bybit-exchange.github.io/docs/v5/ws/connect): at
most 10 args per subscribe request, and 21,000 characters of args per public connection; see
:class:`SubscriptionPlan`.
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

# Bybit accepts at most 10 args per subscribe request on some channels; 10 is safe everywhere.
MAX_ARGS_PER_REQUEST = 10
KINDS = ("tickers", "publicTrade", "allLiquidation", "orderbook")


def topics_for(symbols: Iterable[str], orderbook_depth: int = 50, book: Callable[[str], bool] | None = None) -> list[str]:
    """Every topic Virtuoso streams for ``symbols``: tickers, trades, liquidations, and the book
    for those ``book`` picks (all of them when it is None)."""
    out: list[str] = []
    for s in symbols:
        out += [f"tickers.{s}", f"publicTrade.{s}", f"allLiquidation.{s}"]
        if book is None or book(s):
            out.append(f"orderbook.{orderbook_depth}.{s}")
    return out


def chunked(topics: Sequence[str], size: int = MAX_ARGS_PER_REQUEST) -> list[list[str]]:
    """Split topics into subscribe requests of at most ``size`` args."""
    return [list(topics[i : i + size]) for i in range(0, len(topics), size)]


def topic_kind(topic: str) -> str:
    """``tickers.BTCUSDT`` -> ``tickers``; ``orderbook.50.BTCUSDT`` -> ``orderbook``."""
    return topic.split(".", 1)[0]


def topic_symbol(topic: str) -> str:
    """The symbol is the last dotted part of a public topic."""
    return topic.rsplit(".", 1)[-1]
