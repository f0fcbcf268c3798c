"""Alert policy (pure): when a detector's level becomes an alert, and when it becomes a new one.

Per symbol and kind, an *episode* opens when the level reaches 1 (the threshold) and stays open
while the level is at least ``exit_ratio`` (hysteresis: a value wobbling around the threshold is
one episode, not ten). Within an episode the alert is re-raised, with the same id, only when its
severity rises. After an episode opened, a new one on the same symbol and kind waits
``cooldown_s``. A market-wide move (at least ``market_wide_fraction`` of a watchlist of three or
more moving the same way beyond two sigmas) demotes the flags it explains to info; such an episode
starts no cooldown (:meth:`EpisodePolicy.waive_cooldown`), so the symbol's own move right after
the market's is still flagged.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Mapping

from virtuoso.config import AlertPolicySettings
from virtuoso.domain.alerts import Severity

MIN_SYMBOLS_FOR_MARKET_WIDE = 3


@dataclass(frozen=True, slots=True)
class Decision:
    """Publish an alert: a new episode (``new``) or a higher severity of the open one (``escalate``)."""

    event: str
    episode_start_ms: int
    severity: Severity


@dataclass
class _Episode:
    active: bool = False
    start_ms: int = -1
    rank: int = -1
    cooldown: bool = True


class EpisodePolicy:
    """Cooldown, hysteresis and escalation for every (symbol, kind)."""

    def __init__(self, settings: AlertPolicySettings) -> None:
        self.settings = settings
        self._state: dict[tuple[str, str], _Episode] = {}

    def step(self, symbol: str, kind: str, level: float, severity: Severity, ts_ms: int) -> Decision | None:
        """Feed the level of one second; returns what to publish, if anything."""
        ep = self._state.get((symbol, kind))
        if ep is None:
            if level < 1.0:
                return None
            ep = self._state[(symbol, kind)] = _Episode()
        if ep.active:
            if level < self.settings.exit_ratio:
                ep.active = False
                return None
            if severity.rank > ep.rank:
                ep.rank = severity.rank
                return Decision("escalate", ep.start_ms, severity)
            return None
        if level < 1.0:
            return None
        if ep.start_ms >= 0 and ep.cooldown and ts_ms < ep.start_ms + self.settings.cooldown_s * 1000:
            return None
        ep.active, ep.start_ms, ep.rank, ep.cooldown = True, ts_ms, severity.rank, True
        return Decision("new", ts_ms, severity)

    def waive_cooldown(self, symbol: str, kind: str) -> None:
        """The latest episode was explained away (a market-wide move): once it ends, the next one
        may open at once. Hysteresis still holds while it lasts, so it is one episode, not many."""
        ep = self._state.get((symbol, kind))
        if ep is not None:
            ep.cooldown = False

    def escalate(self, symbol: str, kind: str, severity: Severity) -> Decision | None:
        """Raise the severity of the latest episode from outside (pump -> dump), once per level."""
        ep = self._state.get((symbol, kind))
        if ep is None or ep.start_ms < 0 or severity.rank <= ep.rank:
            return None
        ep.rank = severity.rank
        return Decision("escalate", ep.start_ms, severity)

    def latest_start_ms(self, symbol: str, kind: str) -> int:
        """Start of the latest episode of this symbol and kind (-1 if there was none)."""
        ep = self._state.get((symbol, kind))
        return ep.start_ms if ep is not None else -1

    def is_active(self, symbol: str, kind: str) -> bool:
        ep = self._state.get((symbol, kind))
        return bool(ep and ep.active)


def market_wide_symbols(moving: Mapping[str, float], watchlist_size: int, fraction: float,
                        max_ratio: float = math.inf) -> set[str]:
    """Symbols whose move is part of a market-wide move, from ``symbol -> signed move (%)`` of movers.

    A mover whose move is more than ``max_ratio`` times the median mover's (same direction) is
    not explained by the market: a 7 % crash while two other coins drift 0.3 % is its own event.
    """
    if watchlist_size < MIN_SYMBOLS_FOR_MARKET_WIDE:
        return set()
    need = fraction * watchlist_size
    out: set[str] = set()
    for side in ({s: r for s, r in moving.items() if r > 0}, {s: -r for s, r in moving.items() if r < 0}):
        if len(side) >= need:
            typical = statistics.median(side.values())
            out |= {s for s, r in side.items() if r <= max_ratio * typical}
    return out
