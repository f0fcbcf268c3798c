"""The report's **Alert outcomes** section (pure): what followed the period's events, measured.

Built from :class:`virtuoso.alerting.outcomes.Outcome` rows: the table per kind and severity
(events, how many were measured at +1 h, hit rate with counts, reversals, median moves), one
measured sentence per kind and coin that has outcomes ("Past pump and dump events on SOLUSDT: 7 of
9 reversed within 1 h; ..."), and the events themselves (latest first, capped). Plain text only:
the renderer escapes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from virtuoso.alerting.outcomes import Outcome, outcome_table, outlook_note

EVENT_ROWS_MAX = 200
DASH = "\u2013"


@dataclass(frozen=True, slots=True)
class OutcomeSection:
    """Rows are tuples of display strings, in the column order of the ``*_HEADERS`` below."""

    hit_multiple: float
    events_total: int
    measured_total: int
    table: tuple[tuple[str, ...], ...]
    notes: tuple[str, ...]
    events: tuple[tuple[str, ...], ...]


TABLE_HEADERS = ("Kind", "Severity", "Events", "Measured at +1 h", "Hits", "Hit rate", "Reversed within 1 h",
                 "Median +1 h", "Median move for", "Median move against")
EVENT_HEADERS = ("Opened (UTC)", "Symbol", "Kind", "Severity", "Dir.", "+5 min", "+1 h", "+4 h", "For (1 h)",
                 "Against (1 h)", "Hit", "OI reverted", "Funding reverted")


def _pct(v: float | None) -> str:
    return DASH if v is None else f"{v:+.2f}%"


def _yes(v: bool | None) -> str:
    return DASH if v is None else ("yes" if v else "no")


def _utc(ms: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")


def _as_outcomes(rows: Iterable[Any]) -> list[Outcome]:
    out = []
    for r in rows:
        if isinstance(r, Outcome):
            out.append(r)
        elif isinstance(r, dict):
            out.append(Outcome.from_dict(r))
    return out


def compose_outcomes(rows: Iterable[Any], start_ms: int, end_ms: int, symbols: Sequence[str],
                     hit_multiple: float) -> OutcomeSection:
    """The section for events that opened in [start_ms, end_ms) on ``symbols``."""
    wanted = set(symbols)
    outcomes = [o for o in _as_outcomes(rows) if start_ms <= o.ts_ms < end_ms and (not wanted or o.symbol in wanted)]
    table = tuple(
        (r.kind.replace("_", " "), r.severity, str(r.events), str(r.measured_1h), f"{r.hits} of {r.measured_1h}",
         DASH if r.hit_rate is None else f"{r.hit_rate:.0%}",
         f"{r.reversed_1h} of {r.directional}" if r.directional else DASH,
         _pct(r.median_ret_1h_pct), _pct(r.median_move_for_1h_pct), _pct(r.median_move_against_1h_pct))
        for r in outcome_table(outcomes)
    )
    pairs = sorted({(o.symbol, o.kind) for o in outcomes if o.ret_1h_pct is not None})
    notes = tuple(outlook_note(outcomes, s, k, hit_multiple) for s, k in pairs)
    latest = sorted(outcomes, key=lambda o: o.ts_ms, reverse=True)[:EVENT_ROWS_MAX]
    events = tuple(
        (_utc(o.ts_ms), o.symbol, o.kind.replace("_", " "), o.severity, {1: "up", -1: "down"}.get(o.direction, DASH),
         _pct(o.ret_5m_pct), _pct(o.ret_1h_pct), _pct(o.ret_4h_pct), _pct(o.move_for_1h_pct),
         _pct(o.move_against_1h_pct), _yes(o.hit), _yes(o.oi_reverted_1h), _yes(o.funding_reverted_1h))
        for o in latest
    )
    return OutcomeSection(hit_multiple, len(outcomes), sum(1 for o in outcomes if o.ret_1h_pct is not None),
                          table, notes, events)
