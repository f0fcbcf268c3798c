"""Which WebSocket connection carries which topics, within Bybit's public limits.

Bybit allows 10 args per subscribe request (:func:`virtuoso.ingest.bybit.topics.chunked` splits
them) and 21,000 characters of args per public linear connection
(https://bybit-exchange.github.io/docs/v5/ws/connect). The plan caps each connection at
``topics_per_connection`` topics (the setting stays under the character limit by construction,
see ``virtuoso.config.MAX_TOPICS_PER_CONNECTION``) and opens another connection when they are full.
A symbol's topics are placed together when they fit, so a dropped connection costs whole symbols.

Pure: the source applies the changes it returns (subscribe / unsubscribe per connection).
"""

from __future__ import annotations

from typing import Iterable

from virtuoso.ingest.bybit.topics import topic_symbol

Changes = dict[int, list[str]]  # connection index -> topics


class SubscriptionPlan:
    """Connections as lists of topics; ``add``, ``remove`` and ``set_focus`` return what changed."""

    def __init__(self, topics_per_connection: int, orderbook_depth: int = 50) -> None:
        self.per_connection = max(1, int(topics_per_connection))
        self.depth = orderbook_depth
        self.connections: list[list[str]] = []
        self._conn_of: dict[str, int] = {}  # topic -> connection index
        self.focus: set[str] = set()

    # ------------------------------------------------------------------ reads

    def symbols(self) -> list[str]:
        """Followed symbols (those with a ticker topic), in the order they were added."""
        return [topic_symbol(t) for t in self._conn_of if t.startswith("tickers.")]

    def topics(self) -> list[str]:
        return [t for conn in self.connections for t in conn]

    def book_topic(self, symbol: str) -> str:
        return f"orderbook.{self.depth}.{symbol}"

    # ------------------------------------------------------------------ changes

    def add(self, symbols: Iterable[str]) -> Changes:
        """Follow ``symbols``: tickers, trades, liquidations, and the book when in focus."""
        out: Changes = {}
        for s in symbols:
            if f"tickers.{s}" in self._conn_of:
                continue
            group = [f"tickers.{s}", f"publicTrade.{s}", f"allLiquidation.{s}"]
            if s in self.focus:
                group.append(self.book_topic(s))
            self._place(group, out)
        return out

    def remove(self, symbols: Iterable[str]) -> Changes:
        """Stop following ``symbols``: every topic of theirs, per connection."""
        out: Changes = {}
        for s in symbols:
            for t in (f"tickers.{s}", f"publicTrade.{s}", f"allLiquidation.{s}", self.book_topic(s)):
                i = self._conn_of.pop(t, None)
                if i is not None:
                    self.connections[i].remove(t)
                    out.setdefault(i, []).append(t)
        return out

    def set_focus(self, focus: Iterable[str]) -> tuple[Changes, Changes]:
        """Books for exactly ``focus`` (of the followed symbols): (to subscribe, to unsubscribe)."""
        followed = set(self.symbols())
        new = {s for s in focus if s in followed}
        old = self.focus & followed
        self.focus = set(focus)
        gone: Changes = {}
        for s in sorted(old - new):
            i = self._conn_of.pop(self.book_topic(s), None)
            if i is not None:
                self.connections[i].remove(self.book_topic(s))
                gone.setdefault(i, []).append(self.book_topic(s))
        added: Changes = {}
        for s in sorted(new - old):
            if self.book_topic(s) not in self._conn_of:
                self._place([self.book_topic(s)], added, prefer=self._conn_of.get(f"tickers.{s}"))
        return added, gone

    def _place(self, group: list[str], out: Changes, prefer: int | None = None) -> None:
        room = [i for i, c in enumerate(self.connections) if len(c) + len(group) <= self.per_connection]
        if prefer in room:  # next to the symbol's other topics
            room.insert(0, prefer)  # type: ignore[arg-type]
        if room:
            i = room[0]
        elif len(group) > self.per_connection:  # more than one connection holds: one topic at a time
            for t in group:
                self._place([t], out)
            return
        else:
            self.connections.append([])
            i = len(self.connections) - 1
        self.connections[i] += group
        out.setdefault(i, []).extend(group)
        for t in group:
            self._conn_of[t] = i
