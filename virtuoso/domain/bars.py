"""Bars: what market state aggregates events into, what storage keeps and charts draw.

A ``Bar`` is a typed ``NamedTuple``, like the events (see :mod:`virtuoso.domain.events`): as
immutable as a frozen dataclass and several times cheaper to build, which matters because market
state closes one per symbol every second (see bench/ingest.py). Compare bars by type and fields,
never with plain tuples.
"""

from __future__ import annotations

from typing import NamedTuple


class Bar(NamedTuple):
    """One interval of one symbol. Liquidation volumes are in base units; USD = volume * close.

    ``open_interest`` and ``funding_rate`` are the last values seen in the interval (NaN if none).
    ``simulated`` is True when the bar came from the simulator, so reports and UI label it honestly.
    ``block_volume`` is the part of ``volume`` traded as block trades (Bybit's ``BT`` flag): it is
    negotiated off the book, so detection leaves it out. ``max_print_volume`` is the largest single
    print of the interval, with the trades of one same-millisecond sweep on one side counted as one
    print: detection leaves the largest print out of its volume windows, so one print cannot make a
    spike. Neither is stored (history reloaded from storage has 0 for both).
    """

    symbol: str
    start_ms: int
    interval_s: int
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0
    turnover: float = 0.0
    trade_count: int = 0
    buy_volume: float = 0.0
    sell_volume: float = 0.0
    open_interest: float = float("nan")
    funding_rate: float = float("nan")
    long_liq_volume: float = 0.0
    short_liq_volume: float = 0.0
    simulated: bool = False
    block_volume: float = 0.0
    max_print_volume: float = 0.0

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.interval_s * 1000
