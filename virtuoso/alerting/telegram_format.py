"""Telegram message texts (pure): an event, a feed gap, the heartbeat and a paper trade, in HTML mode.

The Bot API (https://core.telegram.org/bots/api#formatting-options) parses ``parse_mode=HTML``:
only ``<b>``, ``<i>``, ``<code>`` and a few other tags, and ``<``, ``>``, ``&`` in text must be
written as entities, which is what :func:`esc` does to every untrusted string. Limits: a message
is 1-4096 characters and a photo caption 0-1024 after entities parsing (tags do not count, an
entity counts as one character), counted in UTF-16 code units; texts are cut to fit before
escaping, so the limit holds whatever the alert says. Simulated data says so on the first line.
"""

from __future__ import annotations

import html
import math
from typing import Any, Sequence

from virtuoso.alerting.discord_format import CHANGE_WORDS, DIRECTION_WORDS, OUTLOOK, SIMULATED_LABEL
from virtuoso.alerting.discord_text import iso, truncate, utf16_len
from virtuoso.domain.alerts import Alert, Severity
from virtuoso.domain.notices import FeedGap
from virtuoso.domain.trades import PaperTradeEvent, TradeAction
from virtuoso.state.snapshot import SymbolSnapshot

TEXT_MAX = 4096
CAPTION_MAX = 1024
ICON = {Severity.INFO: "🔵", Severity.WATCH: "🟡", Severity.HIGH: "🟠", Severity.CRITICAL: "🔴"}


def esc(text: Any) -> str:
    return html.escape(str(text), quote=False)


def _fmt(v: Any, digits: int = 4) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "n/a"
    return f"{f:,.{digits}g}" if math.isfinite(f) else "n/a"


def _pct(v: Any) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "n/a"
    return f"{f:+.2f}%" if math.isfinite(f) else "n/a"


def _compose(parts: Sequence[tuple[str, str]], limit: int) -> str:
    """(tag, plain text) pairs -> HTML within ``limit`` visible characters (later parts cut first)."""
    budget = limit
    kept: list[tuple[str, str]] = []
    for tag, text in parts:
        n = utf16_len(text)
        if n > budget:
            if budget > 1:
                kept.append((tag, truncate(text, budget)))
            break
        kept.append((tag, text))
        budget -= n
    return "".join(f"<{tag}>{esc(t)}</{tag}>" if tag else esc(t) for tag, t in kept)


def event_text(alert: Alert, snapshot: SymbolSnapshot | None = None, composite: float | None = None, *,
               simulated: bool = False, outlook_note: str | None = None) -> str:
    """One event as it stands now: headline, primary reading, market, evidence, measured outlook, id."""
    sim = simulated or alert.simulated
    kind = alert.kind.value.replace("_", " ")
    parts: list[tuple[str, str]] = []
    if sim:
        parts.append(("b", f"🧪 {SIMULATED_LABEL}\n"))
    parts.append(("b", f"{ICON.get(alert.severity, '')} {alert.severity.value.upper()} {kind} on {alert.symbol}"))
    parts.append(("", f" · {CHANGE_WORDS.get(alert.change, 'update')} · {DIRECTION_WORDS.get(alert.direction, '')}\n"))
    lines = list(alert.evidence_lines)
    if lines:
        parts.append(("", lines[0] + "\n"))
    elif alert.message:
        parts.append(("", alert.message + "\n"))
    parts.append(("", f"Score {alert.score:.0f}/100"
                  + (f" · composite {composite:.0f}/100" if composite is not None and math.isfinite(composite) else "")
                  + "\n"))
    if snapshot is not None:
        parts.append(("", f"Price {_fmt(snapshot.last_price, 6)} · 1h {_pct(snapshot.change_1h_pct)} · "
                          f"OI 1h {_pct(snapshot.oi_change_1h_pct)}\n"))
    for line in lines[1:8]:
        parts.append(("", f"• {line}\n"))
    if not lines:
        for k, v in list(alert.evidence.items())[:8]:
            if k not in ("readings", "market_wide", "phase"):
                parts.append(("", f"• {str(k).replace('_', ' ')}: {_fmt(v)}\n"))
    parts.append(("i", OUTLOOK.get(alert.kind.value, "Watch for confirmation before acting.") + "\n"))
    if outlook_note:
        parts.append(("", f"📊 {outlook_note}\n"))
    parts.append(("code", f"event {alert.id} · {alert.severity.value} · {iso(alert.ts_event_ms)[:19]} UTC"))
    return _compose(parts, TEXT_MAX)


def photo_caption(alert: Alert, simulated: bool = False) -> str:
    sim = " · SIMULATED" if simulated or alert.simulated else ""
    return _compose([("", f"{alert.symbol} · {alert.kind.value.replace('_', ' ')} · event {alert.id}{sim}")],
                    CAPTION_MAX)


def gap_text(gap: FeedGap, simulated: bool = False) -> str:
    symbols = ", ".join(gap.symbols) or "the watchlist"
    fill = (f"Backfilled from the exchange's history ({gap.backfilled_bars} one-minute bars); alerts during it "
            "were missed." if gap.backfilled else "Not backfilled: history has a hole and alerts during it were missed.")
    parts = [("b", f"⚠️ Monitor was blind for {gap.duration_s:.0f} s\n"),
             ("", f"Unmonitored: {symbols}\nFrom {iso(gap.start_ms)[:19]} to {iso(gap.end_ms)[:19]} UTC ({gap.cause}).\n"),
             ("", fill)]
    if simulated:
        parts.insert(0, ("b", f"🧪 {SIMULATED_LABEL}\n"))
    return _compose(parts, TEXT_MAX)


def heartbeat_text(day: str, counts: dict[str, int], gaps: int) -> str:
    rows = "".join(f"• {k.replace('_', ' ')}: {v}\n" for k, v in sorted(counts.items()))
    return _compose([("b", f"💓 Virtuoso heartbeat {day}\n"), ("", f"Last 24 hours:\n{rows}• feed gaps: {gaps}")],
                    TEXT_MAX)


def trade_text(ev: PaperTradeEvent, simulated: bool = False) -> str:
    pnl = f" · PnL {ev.pnl_usd:,.2f} USD" if ev.action == TradeAction.CLOSE else ""
    parts = [("b", f"Paper trade: {ev.action.value.upper()} {ev.side.value.upper()} {ev.symbol}\n"),
             ("", f"{_fmt(ev.qty)} at {_fmt(ev.price, 6)} ({ev.notional_usd:,.0f} USD), confluence "
                  f"{ev.confluence_score:.0f}/100{pnl}\n{ev.reason}\nPaper trading only; no order was placed.")]
    if simulated or ev.simulated:
        parts.insert(0, ("b", f"🧪 {SIMULATED_LABEL}\n"))
    return _compose(parts, TEXT_MAX)
