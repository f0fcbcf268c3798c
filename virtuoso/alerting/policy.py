"""Event policy (pure): readings become one event per symbol, with one id, one primary kind.

Every second the runner hands over each symbol's readings (one level per kind; 1.0 is the watch
alarm). :class:`EventBook` turns them into the changes a trader is told about:

- **One event per symbol at a time.** When a reading reaches its alarm and no event is open on the
  symbol, an event opens (``new``) with a stable id (symbol and start time). Readings of other
  kinds while it is open are its evidence, not alerts of their own.
- **Primary kind: the most specific explanation.** Among the readings at least ELIGIBLE of their
  alarm, the first in ``SPECIFICITY``: a pump or a cascade explains the volume spike and the price
  move inside it, a divergence explains the OI surge and the price leg, an OI surge says more than
  a price move, a price move more than volume alone. When a more specific reading reaches its
  alarm later, the event is ``reclassified`` (never back to a less specific kind).
- **Escalation.** The event's severity is the highest any reading reached; each rise is one
  ``escalated`` line. A pump's dump is a ``dump`` line (:meth:`EventBook.escalate`).
- **Hysteresis and end.** The event ends (``ended``) once every reading has stayed below
  ``exit_ratio`` of its alarm for END_HOLD_S, unless the runner holds it open (a pump waiting for
  its dump).
- **Cooldown.** Within ``cooldown_s`` of its end, a reading of the same kind (or a less specific
  one) on the same symbol reopens the same event, silently unless it escalates or is more
  specific: one move, one message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from virtuoso.config import AlertPolicySettings
from virtuoso.detect.levels import severity_for
from virtuoso.domain.alerts import AlertKind, Change, Severity, event_id

SPECIFICITY = (
    AlertKind.MARKET_MOVE,
    AlertKind.PUMP_AND_DUMP,
    AlertKind.LIQUIDATION_CASCADE,
    AlertKind.OI_PRICE_DIVERGENCE,
    AlertKind.OI_SURGE,
    AlertKind.PRICE_MOVE,
    AlertKind.VOLUME_SPIKE,
)
_RANK = {k: i for i, k in enumerate(SPECIFICITY)}
ELIGIBLE = 0.8  # a more specific reading this close to its alarm names the event
END_HOLD_S = 60


def more_specific(a: AlertKind, b: AlertKind) -> bool:
    """Whether kind ``a`` is a more specific explanation than ``b``."""
    return _RANK[a] < _RANK[b]


def primary_kind(levels: Mapping[AlertKind, float], at_least: float = ELIGIBLE) -> AlertKind | None:
    """The most specific kind whose level is at least ``at_least`` (None if none is)."""
    best: AlertKind | None = None
    for kind, lv in levels.items():
        if lv >= at_least and (best is None or more_specific(kind, best)):
            best = kind
    return best


@dataclass(frozen=True, slots=True)
class EventChange:
    """One change of an event, to publish."""

    id: str
    symbol: str
    kind: AlertKind
    severity: Severity
    change: Change
    start_ms: int
    level: float


@dataclass
class _Event:
    id: str
    symbol: str
    kind: AlertKind
    start_ms: int
    severity: Severity
    peak_level: float
    last_active_ms: int
    ended_ms: int = -1
    hold_until_ms: int = -1
    silent: bool = False  # reopened within the cooldown and not told again (yet)
    kinds_seen: set[AlertKind] = field(default_factory=set)


class EventBook:
    """Open and recently ended events, one per symbol."""

    def __init__(self, settings: AlertPolicySettings) -> None:
        self.settings = settings
        self._open: dict[str, _Event] = {}
        self._ended: dict[str, _Event] = {}

    def step(self, symbol: str, levels: Mapping[AlertKind, float], ts_ms: int) -> EventChange | None:
        """Feed one second of ``symbol``'s readings; returns the change to publish, if any."""
        ev = self._open.get(symbol)
        top = max(levels.values(), default=0.0)
        if ev is None:
            if top < 1.0:
                return None
            kind = primary_kind(levels) or max(levels, key=levels.__getitem__)
            return self._open_event(symbol, kind, levels, top, ts_ms)
        if top >= self.settings.exit_ratio:
            ev.last_active_ms = ts_ms
        change = self._update(ev, levels, top)
        if change is None and self._finished(ev, ts_ms):
            return self._end(ev, ts_ms)
        return change

    def _open_event(self, symbol: str, kind: AlertKind, levels: Mapping[AlertKind, float], top: float,
                    ts_ms: int) -> EventChange | None:
        old = self._ended.get(symbol)
        if old is not None and ts_ms - old.ended_ms < self.settings.cooldown_s * 1000 and not more_specific(kind, old.kind):
            # The same move again within the cooldown: the same event, told again only if it grew.
            del self._ended[symbol]
            old.ended_ms, old.last_active_ms, old.silent = -1, ts_ms, True
            self._open[symbol] = old
            return self._update(old, levels, top)
        sev = severity_for(top)
        ev = _Event(event_id(symbol, ts_ms), symbol, kind, ts_ms, sev, top, ts_ms, kinds_seen=_on(levels))
        self._open[symbol] = ev
        self._ended.pop(symbol, None)
        return EventChange(ev.id, symbol, kind, sev, Change.NEW, ts_ms, top)

    def _update(self, ev: _Event, levels: Mapping[AlertKind, float], top: float) -> EventChange | None:
        ev.kinds_seen |= _on(levels)
        ev.peak_level = max(ev.peak_level, top)
        sharper = primary_kind(levels, at_least=1.0)
        reclassified = sharper is not None and more_specific(sharper, ev.kind)
        if reclassified:
            ev.kind = sharper  # type: ignore[assignment]
        sev = severity_for(top)
        escalated = sev.rank > ev.severity.rank
        if escalated:
            ev.severity = sev
        if not (reclassified or escalated):
            return None
        change = Change.RECLASSIFIED if reclassified else Change.ESCALATED
        ev.silent = False
        return EventChange(ev.id, ev.symbol, ev.kind, ev.severity, change, ev.start_ms, ev.peak_level)

    def _finished(self, ev: _Event, ts_ms: int) -> bool:
        if ts_ms < ev.hold_until_ms:
            return False
        return ts_ms - ev.last_active_ms >= END_HOLD_S * 1000

    def _end(self, ev: _Event, ts_ms: int) -> EventChange | None:
        """End the event; a silent reopening ends silently too (its end was told already)."""
        del self._open[ev.symbol]
        ev.ended_ms = ts_ms
        self._ended[ev.symbol] = ev
        if ev.silent:
            return None
        return EventChange(ev.id, ev.symbol, ev.kind, ev.severity, Change.ENDED, ev.start_ms, ev.peak_level)

    def escalate(self, symbol: str, severity: Severity, change: Change = Change.DUMP) -> EventChange | None:
        """A change from outside the readings: a pump's dump. The event's severity rises to
        ``severity`` if that is higher; a dump is told even when it does not (it is news)."""
        ev = self._open.get(symbol)
        if ev is None or (change is not Change.DUMP and severity.rank <= ev.severity.rank):
            return None
        if severity.rank > ev.severity.rank:
            ev.severity = severity
        ev.silent = False
        return EventChange(ev.id, symbol, ev.kind, ev.severity, change, ev.start_ms, ev.peak_level)

    def hold(self, symbol: str, until_ms: int) -> None:
        """Keep the open event open until ``until_ms`` whatever the readings (a pump awaiting its dump)."""
        ev = self._open.get(symbol)
        if ev is not None:
            ev.hold_until_ms = until_ms

    def release(self, symbol: str) -> None:
        """Stop holding the open event (its dump came, or the wait is over)."""
        self.hold(symbol, -1)

    def open_event(self, symbol: str) -> EventChange | None:
        """The open event on ``symbol`` as its latest state, or None."""
        ev = self._open.get(symbol)
        if ev is None:
            return None
        return EventChange(ev.id, symbol, ev.kind, ev.severity, Change.NEW, ev.start_ms, ev.peak_level)

    def is_open(self, symbol: str) -> bool:
        return symbol in self._open

    def forget(self, symbol: str) -> None:
        """Drop a symbol that is no longer followed."""
        self._open.pop(symbol, None)
        self._ended.pop(symbol, None)


def _on(levels: Mapping[AlertKind, float]) -> set[AlertKind]:
    return {k for k, lv in levels.items() if lv >= 1.0}
