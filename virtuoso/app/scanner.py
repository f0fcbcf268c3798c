"""The Scanner: one row per followed symbol, worst first, for the Scanner page (pure).

A row is what a trader scans a whole market for: price change over 5 minutes and 1 hour, open
interest change over the same windows, funding, volume against the coin's own baseline,
liquidations of the last 15 minutes, the event score and the events open now. Changes come from
closed 1-minute bars (the open minute is left out, so a row does not jump within a minute);
NaN where there is not enough history yet. Worst first: events open, then score, then the
largest open-interest or price move.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Iterable, Mapping, Sequence

from virtuoso.domain.alerts import Alert, Change, Severity
from virtuoso.domain.bars import Bar
from virtuoso.state.snapshot import SymbolSnapshot

NAN = float("nan")
BARS_NEEDED = 61  # 1 h of change needs the bar an hour before the newest
LIQ_WINDOW_MIN = 15
ALERT_LOOKBACK_MS = 24 * 3_600_000  # an event open longer than this is shown from its later lines


@dataclass(frozen=True, slots=True)
class ScannerRow:
    symbol: str
    price: float
    chg_5m_pct: float
    chg_1h_pct: float
    oi_chg_5m_pct: float
    oi_chg_1h_pct: float
    funding_pct: float  # per funding interval, in percent (0.01 = 0.01 %)
    vol_vs_base: float  # last hour's volume / the coin's usual hourly volume
    liq_15m_usd: float
    turnover_24h_usd: float
    score: float  # composite event score, 0-100
    open_events: int
    worst_open: str  # severity of the worst open event, "" when none

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


COLUMNS = tuple(f.name for f in fields(ScannerRow))


def _change(now: float, then: float) -> float:
    if not (now == now and then == then) or then <= 0:
        return NAN
    return (now / then - 1.0) * 100.0


def _ago(bars: Sequence[Bar], minutes: int) -> Bar | None:
    return bars[-1 - minutes] if len(bars) > minutes else None


def open_events(alerts: Iterable[Alert]) -> dict[str, list[Alert]]:
    """Per symbol, the latest line of each event whose last line is not ENDED."""
    latest: dict[str, Alert] = {}
    for a in alerts:
        prev = latest.get(a.id)
        if prev is None or (a.ts_event_ms, a.change is Change.ENDED) >= (prev.ts_event_ms, prev.change is Change.ENDED):
            latest[a.id] = a
    out: dict[str, list[Alert]] = {}
    for a in latest.values():
        if a.change is not Change.ENDED:
            out.setdefault(a.symbol, []).append(a)
    return out


def scanner_row(symbol: str, snap: SymbolSnapshot | None, bars: Sequence[Bar], score: float,
                events: Sequence[Alert]) -> ScannerRow:
    """One symbol's row from its snapshot, its newest closed 1-minute bars (oldest first) and events."""
    last = bars[-1] if bars else None
    price = snap.last_price if snap is not None and snap.last_price == snap.last_price else (last.close if last else NAN)
    b5, b60 = _ago(bars, 5), _ago(bars, 60)
    oi_now = last.open_interest if last is not None else NAN
    liq = sum((b.long_liq_volume + b.short_liq_volume) * b.close for b in bars[-LIQ_WINDOW_MIN:])
    base = snap.volume_baseline_1h if snap is not None else NAN
    vol_ratio = snap.volume_1h / base if snap is not None and base == base and base > 0 else NAN
    worst = max(events, key=lambda a: a.severity.rank, default=None)
    return ScannerRow(
        symbol=symbol,
        price=price,
        chg_5m_pct=_change(last.close, b5.close) if last and b5 else NAN,
        chg_1h_pct=_change(last.close, b60.close) if last and b60 else NAN,
        oi_chg_5m_pct=_change(oi_now, b5.open_interest) if b5 else NAN,
        oi_chg_1h_pct=_change(oi_now, b60.open_interest) if b60 else NAN,
        funding_pct=snap.funding_rate * 100.0 if snap is not None else NAN,
        vol_vs_base=vol_ratio,
        liq_15m_usd=liq,
        turnover_24h_usd=snap.turnover_24h if snap is not None else NAN,
        score=float(score),
        open_events=len(events),
        worst_open=worst.severity.value if worst is not None else "",
    )


def _abs(x: float) -> float:
    return abs(x) if x == x else 0.0


def worst_first(rows: Iterable[ScannerRow]) -> list[ScannerRow]:
    """Open events (worst severity first), then score, then the largest OI or price move."""
    rank = {s.value: s.rank for s in Severity}

    def key(r: ScannerRow) -> tuple[float, ...]:
        return (-rank.get(r.worst_open, -1), -r.open_events, -r.score,
                -max(_abs(r.oi_chg_1h_pct), _abs(r.chg_1h_pct)), -(r.turnover_24h_usd if r.turnover_24h_usd == r.turnover_24h_usd else 0.0))

    return sorted(rows, key=key)


def scanner_rows(symbols: Sequence[str], snapshots: Mapping[str, SymbolSnapshot], bars: Mapping[str, Sequence[Bar]],
                 scores: Mapping[str, float], alerts: Iterable[Alert]) -> list[ScannerRow]:
    """Every symbol's row, worst first."""
    events = open_events(alerts)
    rows = [scanner_row(s, snapshots.get(s), bars.get(s, ()), scores.get(s, 0.0), events.get(s, ())) for s in symbols]
    return worst_first(rows)


def is_finite(x: float) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)
