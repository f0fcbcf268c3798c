"""Market state: per-symbol rolling 1-second and 1-minute bars, last ticker and book, snapshots.

Written by one thread (the pipeline) through :meth:`MarketState.apply` and :meth:`advance_to`;
read by any thread (detectors, the UI, the relay). Every read returns an immutable copy.

Rules (see docs/state.md):

- Bars close on *event* time: an event for a later interval closes the symbol's open bar, and
  ``advance_to(ts_ms)`` closes every symbol's bars that end at or before ``ts_ms``.
- OHLC and volumes come from trades; turnover is price x size per trade. Bars are continuous:
  each opens at the previous close (the first ever at the first price seen) and its high/low
  include that open. A second without trades is a flat bar at the previous close, so 1-second
  bars are contiguous (a gap longer than the retention only emits the retained tail). 1-minute
  bars are folded from closed 1-second bars, so their volumes equal the sum of their seconds.
- Open interest and funding come from tickers; a bar carries the last value seen by its close
  (carried forward across quiet intervals; NaN until the first ticker).
- Liquidations: Bybit side ``Buy`` closes a long, so its size is ``long_liq_volume``.
- Kline events are ignored: bars are built from trades, which Bybit sends for every fill.
- Events for symbols outside the watchlist are counted (``ignored_events``) and dropped; events
  older than the open interval are folded into it and counted (``late_events``).
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, Callable, Iterable, Sequence

from virtuoso.domain.bars import Bar
from virtuoso.domain.events import BookSummary, Event, Liquidation, Side, Ticker, Trade
from virtuoso.state import windows
from virtuoso.state.bars import BarAccumulator, flat_bar
from virtuoso.state.snapshot import SymbolSnapshot

NAN = float("nan")
_BUY = Side.BUY
_NO_FAILURES: tuple[()] = ()  # what apply_many returns when every event applied


class _Symbol:
    """Mutable per-symbol state; only touched under the MarketState lock."""

    __slots__ = ("name", "acc_1s", "acc_1m", "bars_1s", "bars_1m", "last_price", "oi", "funding",
                 "ticker", "book", "last_event_ms")

    def __init__(self, name: str, maxlen_1s: int, maxlen_1m: int) -> None:
        self.name = name
        self.acc_1s: BarAccumulator | None = None
        self.acc_1m: BarAccumulator | None = None
        self.bars_1s: deque[Bar] = deque(maxlen=maxlen_1s)
        self.bars_1m: deque[Bar] = deque(maxlen=maxlen_1m)
        self.last_price = NAN
        self.oi = NAN
        self.funding = NAN
        self.ticker: Ticker | None = None
        self.book: BookSummary | None = None
        self.last_event_ms = 0


class MarketState:
    """Rolling bars per watched symbol, bounded by retention; thread-safe immutable reads."""

    def __init__(
        self,
        symbols: Iterable[str],
        retention_1s_s: int,
        retention_1m_min: int,
        simulated: bool = False,
        on_bar_1m: Callable[[Bar], None] | None = None,
    ) -> None:
        self._symbols = tuple(dict.fromkeys(symbols))
        self.retention_1s_s = int(retention_1s_s)
        self.retention_1m_min = int(retention_1m_min)
        self.simulated = simulated
        self._on_bar_1m = on_bar_1m
        self._lock = threading.Lock()
        self._syms = {s: _Symbol(s, self.retention_1s_s, self.retention_1m_min) for s in self._symbols}
        self.events_applied = 0
        self.ignored_events = 0
        self.late_events = 0
        self.callback_errors = 0
        self._last_event_ms = 0

    # ------------------------------------------------------------------ writes (pipeline thread)

    def apply(self, event: Event) -> None:
        """Fold one event into its symbol's open bars (closing earlier bars first)."""
        closed: list[Bar] = []
        with self._lock:
            self._apply_locked(event, closed)
        if closed:
            self._emit(closed)

    def apply_many(self, events: Sequence[Event]) -> Sequence[Any]:
        """Fold several events in order under one lock; returns the events that could not be applied.

        One venue message usually holds many trades, so this takes the lock once per message. The
        result equals :meth:`apply` on each event in turn (``tests/property/test_market_fold_properties.py``).
        """
        closed: list[Bar] = []
        failed: list[Any] | None = None  # made on the first failure: nearly every call has none
        lock = self._lock
        lock.acquire()  # not ``with``: half the cost, and this runs once per message
        try:
            apply = self._apply_locked
            for event in events:
                try:
                    apply(event, closed)
                except Exception:  # a bad event must not cost the good ones around it
                    if failed is None:
                        failed = []
                    failed.append(event)
        finally:
            lock.release()
        if closed:
            self._emit(closed)
        return failed if failed is not None else _NO_FAILURES

    def _apply_locked(self, event: Event, closed: list[Bar]) -> None:
        """Fold one event; the caller holds ``self._lock`` and emits ``closed`` after releasing it."""
        st = self._syms.get(event.symbol)
        if st is None:
            self.ignored_events += 1
            return
        ts = event.ts_event_ms
        self.events_applied += 1
        if ts > st.last_event_ms:
            st.last_event_ms = ts
            if ts > self._last_event_ms:
                self._last_event_ms = ts
        kind = type(event)
        if kind is Trade:
            self._fold_trade(st, event, closed)  # type: ignore[arg-type]
        elif kind is Ticker:
            st.ticker = event
            if event.open_interest == event.open_interest:
                st.oi = event.open_interest
            if event.funding_rate == event.funding_rate:
                st.funding = event.funding_rate
            if st.acc_1s is None and event.last_price == event.last_price:
                st.last_price = event.last_price
            self._roll(st, ts, closed)
        elif kind is Liquidation:
            if st.acc_1s is None:
                st.last_price = event.price
            self._roll(st, ts, closed)
            acc = st.acc_1s
            if acc is not None:
                if event.side is _BUY:
                    acc.long_liq_volume += event.size
                else:
                    acc.short_liq_volume += event.size
        elif kind is BookSummary:
            st.book = event
            self._roll(st, ts, closed)
        # Kline and anything else: ignored on purpose (bars come from trades).

    def _fold_trade(self, st: _Symbol, trade: Trade, closed: list[Bar]) -> None:
        """The trade fold, the one place a trade enters a bar: into its second, opening or rolling first."""
        ts = trade.ts_event_ms
        acc = st.acc_1s
        if acc is None:
            st.last_price = trade.price
            self._open(st, ts)
            acc = st.acc_1s
        elif not acc.start_ms <= ts < acc.start_ms + 1000:  # the common case skips the call
            self._roll(st, ts, closed)
        acc.add_trade(trade.price, trade.size, trade.side is _BUY, ts, trade.is_block_trade)  # type: ignore[union-attr]
        st.last_price = trade.price

    def advance_to(self, ts_ms: int) -> None:
        """Close, for every symbol, the bars that end at or before ``ts_ms`` (quiet symbols too)."""
        closed: list[Bar] = []
        with self._lock:
            for st in self._syms.values():
                if st.acc_1s is not None and st.acc_1s.start_ms + 1000 <= ts_ms:
                    self._close_through(st, ts_ms - ts_ms % 1000, closed)
        if closed:
            self._emit(closed)

    def seed_bars_1m(self, bars: Iterable[Bar]) -> None:
        """Merge history (store reload, REST backfill) by ``start_ms``; history wins over built bars.

        Bars for unknown symbols or for the open minute or later are skipped; order is kept and a
        start time never appears twice.
        """
        by_symbol: dict[str, dict[int, Bar]] = {}
        for b in bars:
            if b.symbol in self._syms:
                by_symbol.setdefault(b.symbol, {})[b.start_ms] = b
        with self._lock:
            for sym, incoming in by_symbol.items():
                st = self._syms.get(sym)
                if st is None:  # delisted meanwhile
                    continue
                if st.acc_1m is not None:
                    incoming = {t: b for t, b in incoming.items() if t < st.acc_1m.start_ms}
                if not incoming:
                    continue
                merged = {b.start_ms: b for b in st.bars_1m}
                merged.update(incoming)
                st.bars_1m = deque((merged[t] for t in sorted(merged)), maxlen=self.retention_1m_min)
                newest = st.bars_1m[-1]
                if st.acc_1s is None:  # no live price yet: show the newest history
                    st.last_price = newest.close
                if st.ticker is None and newest.open_interest == newest.open_interest:
                    st.oi = newest.open_interest

    def add_symbol(self, symbol: str) -> None:
        """Follow a symbol listed while running (its bars start empty; history may be seeded)."""
        with self._lock:
            if symbol in self._syms:
                return
            self._syms[symbol] = _Symbol(symbol, self.retention_1s_s, self.retention_1m_min)
            self._symbols = (*self._symbols, symbol)

    def remove_symbol(self, symbol: str) -> None:
        """Stop following a delisted symbol: its bars go, and later events for it are ignored."""
        with self._lock:
            if self._syms.pop(symbol, None) is not None:
                self._symbols = tuple(s for s in self._symbols if s != symbol)

    def last_event_ms_by_symbol(self) -> dict[str, int]:
        """Event time of each symbol's newest event (0 before its first)."""
        with self._lock:
            return {s: st.last_event_ms for s, st in self._syms.items()}

    # ------------------------------------------------------------------ internals

    def _open(self, st: _Symbol, ts_ms: int) -> None:
        sec = ts_ms - ts_ms % 1000
        st.acc_1s = BarAccumulator(st.name, 1, sec, st.last_price)
        st.acc_1m = BarAccumulator(st.name, 60, sec - sec % 60_000, st.last_price)

    def _roll(self, st: _Symbol, ts_ms: int, closed: list[Bar]) -> None:
        acc = st.acc_1s
        if acc is None:
            if st.last_price == st.last_price:
                self._open(st, ts_ms)
            return
        if ts_ms >= acc.start_ms + 1000:
            self._close_through(st, ts_ms - ts_ms % 1000, closed)
        elif ts_ms < acc.start_ms:
            self.late_events += 1

    def _close_through(self, st: _Symbol, new_start_ms: int, closed_1m: list[Bar]) -> None:
        """Close the open 1s bar, flat-fill the gap up to ``new_start_ms`` and roll the minute."""
        acc, acc_m = st.acc_1s, st.acc_1m
        assert acc is not None and acc_m is not None
        sim, oi, fr = self.simulated, st.oi, st.funding
        bar = acc.to_bar(oi, fr, sim)
        st.bars_1s.append(bar)
        acc_m.merge(bar)
        price = acc.close
        first_gap = acc.start_ms + 1000
        if new_start_ms > first_gap:
            start = max(first_gap, new_start_ms - self.retention_1s_s * 1000)
            name = st.name
            st.bars_1s.extend(flat_bar(name, t, 1, price, oi, fr, sim) for t in range(start, new_start_ms, 1000))
        new_minute = new_start_ms - new_start_ms % 60_000
        if new_minute > acc_m.start_ms:
            bar_m = acc_m.to_bar(oi, fr, sim)
            st.bars_1m.append(bar_m)
            closed_1m.append(bar_m)
            first_gap_m = acc_m.start_ms + 60_000
            if new_minute > first_gap_m:
                start = max(first_gap_m, new_minute - self.retention_1m_min * 60_000)
                gap = [flat_bar(st.name, t, 60, acc_m.close, oi, fr, sim) for t in range(start, new_minute, 60_000)]
                st.bars_1m.extend(gap)
                closed_1m.extend(gap)
            acc_m.reset(new_minute, acc_m.close)
        acc.reset(new_start_ms, price)

    def _emit(self, bars: list[Bar]) -> None:
        cb = self._on_bar_1m
        if cb is None:
            return
        for b in bars:
            try:
                cb(b)
            except Exception:  # a broken consumer must not stop market state
                self.callback_errors += 1

    # ------------------------------------------------------------------ reads (any thread)

    @property
    def symbols(self) -> tuple[str, ...]:
        return self._symbols

    @property
    def last_event_ms(self) -> int:
        """Newest event time applied, over all symbols (0 before the first event)."""
        return self._last_event_ms

    def bars_1s(self, symbol: str, n: int | None = None) -> list[Bar]:
        """Closed 1-second bars, oldest first (the newest ``n`` if given)."""
        return self._tail(symbol, n, one_second=True)

    def bars_1m(self, symbol: str, n: int | None = None) -> list[Bar]:
        """Closed 1-minute bars, oldest first (the newest ``n`` if given)."""
        return self._tail(symbol, n, one_second=False)

    def _tail(self, symbol: str, n: int | None, one_second: bool) -> list[Bar]:
        st = self._syms.get(symbol)
        if st is None:
            return []
        with self._lock:
            dq = st.bars_1s if one_second else st.bars_1m
            if n is None or n >= len(dq):
                return list(dq)
            if n <= 0:
                return []
            out = [dq[-i] for i in range(n, 0, -1)]
        return out

    def current_bar_1m(self, symbol: str) -> Bar | None:
        """The open minute so far (closed seconds plus the open second), or None before any price."""
        st = self._syms.get(symbol)
        if st is None:
            return None
        with self._lock:
            return self._current_1m(st)

    def _current_1m(self, st: _Symbol) -> Bar | None:
        if st.acc_1s is None or st.acc_1m is None:
            return None
        view = BarAccumulator(st.name, 60, st.acc_1m.start_ms, st.acc_1m.open)
        view.merge(st.acc_1m.to_bar(st.oi, st.funding, self.simulated))
        view.merge(st.acc_1s.to_bar(st.oi, st.funding, self.simulated))
        return view.to_bar(st.oi, st.funding, self.simulated)

    def ticker(self, symbol: str) -> Ticker | None:
        st = self._syms.get(symbol)
        return None if st is None else st.ticker

    def book(self, symbol: str) -> BookSummary | None:
        st = self._syms.get(symbol)
        return None if st is None else st.book

    def snapshot(self, symbol: str) -> SymbolSnapshot | None:
        """Read-only summary of one symbol for detectors, the UI and the relay."""
        st = self._syms.get(symbol)
        if st is None:
            return None
        with self._lock:
            bars = list(st.bars_1m)
            current = self._current_1m(st)
            t, book = st.ticker, st.book
            price, oi, funding, ts = st.last_price, st.oi, st.funding, st.last_event_ms
        now_ms = ts if ts else (bars[-1].end_ms if bars else 0)
        if current is not None:
            minute = current.start_ms
            vol_1h = windows.volume_since(bars, minute - windows.HOUR_MS) + current.volume
        else:
            minute = bars[-1].end_ms if bars else 0
            vol_1h = windows.volume_since(bars, minute - windows.HOUR_MS) if bars else NAN
        bid = t.bid_price if t is not None else (book.best_bid if book is not None else NAN)
        ask = t.ask_price if t is not None else (book.best_ask if book is not None else NAN)
        return SymbolSnapshot(
            symbol=symbol,
            ts_event_ms=ts,
            last_price=price,
            mark_price=t.mark_price if t is not None else NAN,
            index_price=t.index_price if t is not None else NAN,
            open_interest=oi,
            open_interest_value=t.open_interest_value if t is not None else NAN,
            funding_rate=funding,
            volume_24h=t.volume_24h if t is not None else NAN,
            turnover_24h=t.turnover_24h if t is not None else NAN,
            bid_price=bid,
            ask_price=ask,
            change_1h_pct=windows.change_pct(bars, now_ms, windows.HOUR_MS, price),
            change_24h_pct=windows.change_pct(bars, now_ms, windows.DAY_MS, price),
            oi_change_1h_pct=windows.oi_change_pct(bars, now_ms, windows.HOUR_MS, oi),
            volume_1h=vol_1h,
            volume_baseline_1h=windows.hourly_volume_baseline(bars),
            simulated=self.simulated,
        )

    def snapshots(self) -> dict[str, SymbolSnapshot]:
        out = {}
        for s in self._symbols:
            snap = self.snapshot(s)
            if snap is not None:
                out[s] = snap
        return out

    def health(self) -> dict[str, Any]:
        return {
            "symbols": len(self._symbols),
            "events_applied": self.events_applied,
            "ignored_events": self.ignored_events,
            "late_events": self.late_events,
            "callback_errors": self.callback_errors,
            "last_event_ms": self._last_event_ms,
        }
