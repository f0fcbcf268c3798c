"""The symbols the engine follows now: resolved at start, changed by listings and delistings.

The source resolves ``VIRTUOSO_SYMBOLS`` (``all`` or a checked list) before market state is
built (:func:`resolve`). Later changes arrive on the source's thread (:meth:`Universe.offer`):
market state takes a new symbol at once (it is locked, and the new symbol's backfill may come
before its first message), while the detection runner's rows change only on the pipeline thread
between messages (:meth:`Universe.apply_pending`), because it reads them every second.
``health`` is the engine's ``universe`` section: how many symbols, how many had a message in the
last 10 s, how they were chosen and each connection's state.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Any, Sequence

from virtuoso.config import Settings, SettingsError

log = logging.getLogger(__name__)

LIVE_WINDOW_MS = 10_000


def resolve(source: Any, settings: Settings) -> list[str]:
    """The followed symbols: the source's answer when it can give one (raises SettingsError)."""
    fn = getattr(source, "resolve_symbols", None)
    if callable(fn):
        return list(fn())
    if settings.follows_all:
        raise SettingsError(f"VIRTUOSO_SYMBOLS=all: the {getattr(source, 'name', 'chosen')} source cannot list "
                            "symbols; use VIRTUOSO_SOURCE=bybit or simulator, or name the symbols")
    return list(settings.symbols)


class Universe:
    """Followed symbols plus the changes not yet applied to detection (see the module docstring)."""

    def __init__(self, symbols: Sequence[str], state: Any, detection: Any) -> None:
        self._symbols = tuple(dict.fromkeys(symbols))
        self._state = state
        self._detection = detection
        self._lock = threading.Lock()
        self.pending: deque[tuple[tuple[str, ...], tuple[str, ...]]] = deque()
        self.listed = 0
        self.delisted = 0

    def symbols(self) -> tuple[str, ...]:
        return self._symbols

    def offer(self, added: Sequence[str], removed: Sequence[str]) -> None:
        """From the source's thread: symbols listed and delisted since the last refresh."""
        for s in added:
            self._state.add_symbol(s)
        with self._lock:
            known = set(self._symbols)
            self._symbols = tuple(s for s in self._symbols if s not in set(removed)) + tuple(s for s in added if s not in known)
            self.listed += len(added)
            self.delisted += len(removed)
        self.pending.append((tuple(added), tuple(removed)))

    def apply_pending(self) -> None:
        """On the pipeline thread, between messages: detection follows the changes offered."""
        while self.pending:
            added, removed = self.pending.popleft()
            try:
                for s in removed:
                    self._detection.remove_symbol(s)
                    self._state.remove_symbol(s)
                for s in added:
                    self._detection.add_symbol(s)
            except Exception:  # a bad change must not stop the pipeline thread
                log.exception("universe change failed (added %s, removed %s)", added[:5], removed[:5])

    def health(self, source: Any, now_ms: int, connections: Any = None) -> dict[str, Any]:
        """``{"symbols": N, "live": M, ...}``: live = a message in the last 10 s."""
        symbols = self._symbols
        live_fn = getattr(source, "live_symbols", None)
        if callable(live_fn):
            live = int(live_fn(now_ms, LIVE_WINDOW_MS))
        else:
            last = self._state.last_event_ms_by_symbol() if self._state is not None else {}
            live = sum(1 for s in symbols if now_ms - last.get(s, 0) <= LIVE_WINDOW_MS)
        out: dict[str, Any] = {"symbols": len(symbols), "live": live, "live_window_s": LIVE_WINDOW_MS / 1000,
                               "listed_since_start": self.listed, "delisted_since_start": self.delisted,
                               "changes_pending": len(self.pending)}
        more = getattr(source, "universe", None)
        if callable(more):
            try:
                out.update({k: v for k, v in more().items() if k not in out})
            except Exception as exc:
                out["universe_error"] = str(exc)[:200]
        if isinstance(connections, list):
            out["connection_states"] = connections
        return out
