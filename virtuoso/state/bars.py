"""Bar accumulation: a mutable open interval that becomes a frozen :class:`Bar` when it closes.

Pure and single-threaded: :class:`virtuoso.state.market.MarketState` owns the accumulators and
guards them with its lock. Prices come from trades only. Bars are continuous: an interval opens
at the previous close (the price when it started) and high/low include that open, so a coarser
bar always envelopes its finer bars; an interval without trades is a flat bar at that price.
"""

from __future__ import annotations

from virtuoso.domain.bars import Bar

NAN = float("nan")
_new = tuple.__new__


class BarAccumulator:
    """The open interval of one symbol at one resolution."""

    __slots__ = (
        "symbol", "interval_ms", "start_ms", "open", "high", "low", "close", "volume", "turnover",
        "trade_count", "buy_volume", "sell_volume", "long_liq_volume", "short_liq_volume",
        "block_volume", "max_print", "print_size", "print_ms", "print_buy",
    )

    def __init__(self, symbol: str, interval_s: int, start_ms: int, price: float) -> None:
        self.symbol = symbol
        self.interval_ms = interval_s * 1000
        self.reset(start_ms, price)

    def reset(self, start_ms: int, price: float) -> None:
        """Start a new empty interval at ``start_ms``, flat at ``price`` until a trade arrives."""
        self.start_ms = start_ms
        self.open = self.high = self.low = self.close = price
        self.volume = self.turnover = self.buy_volume = self.sell_volume = 0.0
        self.long_liq_volume = self.short_liq_volume = 0.0
        self.block_volume = self.max_print = self.print_size = 0.0
        self.print_ms = -1
        self.print_buy = False
        self.trade_count = 0

    def add_trade(self, price: float, size: float, is_buy: bool, ts_ms: int = -1, block: bool = False) -> None:
        """Fold one trade. Trades of one side at one millisecond (``ts_ms``) are one print (a sweep of
        the book by one aggressive order); a block trade (``block``) is kept apart in ``block_volume``."""
        if ts_ms == self.print_ms and is_buy is self.print_buy and ts_ms >= 0:
            self.print_size += size
        else:
            self.print_ms, self.print_buy, self.print_size = ts_ms, is_buy, size
        if self.print_size > self.max_print:
            self.max_print = self.print_size
        if block:
            self.block_volume += size
        if price > self.high:
            self.high = price
        elif price < self.low:
            self.low = price
        self.close = price
        self.trade_count += 1
        self.volume += size
        self.turnover += price * size
        if is_buy:
            self.buy_volume += size
        else:
            self.sell_volume += size

    def merge(self, bar: Bar) -> None:
        """Fold a closed finer bar (a 1-second bar into a 1-minute accumulator)."""
        if bar.high > self.high:
            self.high = bar.high
        if bar.low < self.low:
            self.low = bar.low
        self.close = bar.close
        self.trade_count += bar.trade_count
        self.volume += bar.volume
        self.turnover += bar.turnover
        self.buy_volume += bar.buy_volume
        self.sell_volume += bar.sell_volume
        self.long_liq_volume += bar.long_liq_volume
        self.short_liq_volume += bar.short_liq_volume
        self.block_volume += bar.block_volume
        if bar.max_print_volume > self.max_print:
            self.max_print = bar.max_print_volume

    def to_bar(self, open_interest: float, funding_rate: float, simulated: bool) -> Bar:
        """The interval so far as a frozen bar."""
        # tuple.__new__ with every field skips the NamedTuple's Python-level __new__ (once per
        # symbol and second).
        return _new(Bar, (
            self.symbol, self.start_ms, self.interval_ms // 1000, self.open, self.high, self.low, self.close,
            self.volume, self.turnover, self.trade_count, self.buy_volume, self.sell_volume,
            open_interest, funding_rate, self.long_liq_volume, self.short_liq_volume, simulated,
            self.block_volume, self.max_print,
        ))


def flat_bar(symbol: str, start_ms: int, interval_s: int, price: float, open_interest: float,
             funding_rate: float, simulated: bool) -> Bar:
    """A bar for an interval with no trades: OHLC at the previous close, zero volume."""
    return Bar(symbol, start_ms, interval_s, price, price, price, price, open_interest=open_interest,
               funding_rate=funding_rate, simulated=simulated)
