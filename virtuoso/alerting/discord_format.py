"""Discord webhook payloads (pure): one message per event, trades, monitor notices, the test message.

An event's message has three embeds titled **Market Overview** (what happened, in words: the
event's state, its primary reading and the market around it), **Institutional Activity** (open
interest, funding, liquidations and large trades) and **Trading Outlook** (what past events of the
kind did on this coin, measured, and the remaining readings). The event id is in the footer, the
chart (when there is one) is the last embed's image (``attachment://chart.png``). Evidence lines
(words) are used when the alert has them; older alerts with flat evidence show their values.

Every builder returns a payload within Discord's documented limits (see
:mod:`virtuoso.alerting.discord_text`). Text from alerts is untrusted (a symbol or message may
carry markdown or ``@everyone``): it is escaped, and every payload carries
``allowed_mentions: {"parse": []}`` so nothing pings anyone. Simulated data is labelled in the
content line and the footer; real data never is.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from virtuoso.alerting.discord_text import (  # noqa: F401  (re-exported: the limits are part of this API)
    AUTHOR_MAX, CONTENT_MAX, DESCRIPTION_MAX, ELLIPSIS, EMBEDS_MAX, EMPTY, FIELD_NAME_MAX, FIELD_VALUE_MAX,
    FIELDS_MAX, FOOTER_MAX, TITLE_MAX, TOTAL_EMBED_TEXT_MAX, USERNAME_MAX, embed_text_len, enforce_limits,
    escape_markdown, field, iso, label, num, pct, truncate, utf16_len,
)
from virtuoso.domain.alerts import Alert, Change, Severity
from virtuoso.domain.notices import FeedGap
from virtuoso.domain.trades import PaperTradeEvent, TradeAction
from virtuoso.state.snapshot import SymbolSnapshot

SIMULATED_LABEL = "SIMULATED DATA - not real market activity"
EMBED_TITLES = ("Market Overview", "Institutional Activity", "Trading Outlook")
CHART_FILENAME = "chart.png"
LINES_MAX = 8  # evidence lines per embed

SEVERITY_COLOUR = {
    Severity.INFO: 0x3498DB,
    Severity.WATCH: 0xF1C40F,
    Severity.HIGH: 0xE67E22,
    Severity.CRITICAL: 0xE74C3C,
}
SEVERITY_ICON = {Severity.INFO: "🔵", Severity.WATCH: "🟡", Severity.HIGH: "🟠", Severity.CRITICAL: "🔴"}
TRADE_COLOUR = {TradeAction.OPEN: 0x2ECC71, TradeAction.CLOSE: 0x95A5A6}
NOTICE_COLOUR = 0x7F8C8D

OUTLOOK = {
    "oi_surge": "Leverage is building fast. Expect volatility; a squeeze against the crowded side is common.",
    "volume_spike": "Unusual participation. Wait for price follow-through before reading it as a trend.",
    "price_move": "Outsized move for current volatility. Continuation or snap-back: wait for confirmation.",
    "oi_price_divergence": "Positions are being added while price is flat: often positioning ahead of a move.",
    "pump_and_dump": "Fast rise on volume, then a give-back: the pump-and-dump shape. Do not chase.",
    "liquidation_cascade": "Forced liquidations are moving price; it can continue until open interest resets.",
    "market_move": "The whole market is moving together: a coin's own signals mean less until it settles.",
}
CHANGE_WORDS = {
    Change.NEW: "opened", Change.ESCALATED: "escalated", Change.RECLASSIFIED: "reclassified",
    Change.DUMP: "dump phase", Change.ENDED: "ended",
}
DIRECTION_WORDS = {1: "up ↑", -1: "down ↓", 0: "no direction"}
_INSTITUTIONAL_KEYS = ("oi", "open_interest", "open interest", "liq", "large", "whale", "block", "trade",
                       "funding", "short", "long")


def _footer(text: str, simulated: bool) -> dict[str, str]:
    return {"text": f"{text} · {SIMULATED_LABEL}" if simulated else text}


def _base(username: str, simulated: bool, content: str = "") -> dict[str, Any]:
    lines = [f"🧪 **{SIMULATED_LABEL}**"] if simulated else []
    if content:
        lines.append(content)
    return {
        "username": truncate(username or "Virtuoso", USERNAME_MAX),
        "content": "\n".join(lines),
        "embeds": [],
        "allowed_mentions": {"parse": []},
    }


def _finite(v: Any) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _is_institutional(text: str) -> bool:
    t = text.lower()
    return any(k in t for k in _INSTITUTIONAL_KEYS)


def _bullets(lines: Sequence[str]) -> str:
    return "\n".join(f"• {escape_markdown(x)}" for x in lines[:LINES_MAX])


def _readings(alert: Alert) -> list[dict[str, Any]]:
    """One field per reading of the new evidence shape: its level against the threshold."""
    readings = alert.evidence.get("readings")
    out = []
    if isinstance(readings, dict):
        for kind, values in list(readings.items())[:10]:
            level = values.get("level") if isinstance(values, dict) else None
            out.append(field(label(kind), f"{float(level):.2f}x threshold" if _finite(level) else EMPTY))
    return out


def _status(alert: Alert) -> str:
    return "ended" if alert.change is Change.ENDED else "open"


def alert_message(alert: Alert, snapshot: SymbolSnapshot | None = None, composite_score: float | None = None,
                  *, username: str = "Virtuoso", simulated: bool = False, outlook_note: str | None = None,
                  image: str | None = None, opened_ms: int | None = None) -> dict[str, Any]:
    """One event as it stands now (its latest line) as three embeds; ``image`` names an attachment."""
    sim = bool(simulated or alert.simulated)
    colour = SEVERITY_COLOUR.get(alert.severity, 0x95A5A6)
    symbol = escape_markdown(alert.symbol, single_line=True)
    kind = alert.kind.value.replace("_", " ")
    sev = alert.severity.value.upper()
    icon = SEVERITY_ICON.get(alert.severity, "")
    ts = iso(alert.ts_event_ms)
    opened = opened_ms or alert.ts_start_ms or alert.ts_event_ms
    lines = list(alert.evidence_lines)
    inst_lines = [x for x in lines[1:] if _is_institutional(x)]
    other_lines = [x for x in lines[1:] if x not in inst_lines]
    flat = {} if lines else {k: v for k, v in alert.evidence.items() if k not in ("readings", "market_wide", "phase")}
    inst_keys = [k for k in flat if any(t in str(k).lower() for t in _INSTITUTIONAL_KEYS)]
    other_keys = [k for k in flat if k not in inst_keys]

    headline = f"{icon} **{sev}** {kind} on **{symbol}** · {CHANGE_WORDS.get(alert.change, 'update')}"
    if alert.evidence.get("market_wide"):
        headline += " · part of a market-wide move"
    body = [headline]
    if lines:
        body.append(escape_markdown(lines[0]))
    elif alert.message:
        body.append(escape_markdown(alert.message))
    overview = [field("Score", f"{alert.score:.0f}/100"), field("Direction", DIRECTION_WORDS.get(alert.direction, "—")),
                field("Status", _status(alert)), field("Opened (UTC)", iso(opened)[:19].replace("T", " "))]
    if snapshot is not None:
        overview += [
            field("Price", num(snapshot.last_price, 4)),
            field("1h", pct(snapshot.change_1h_pct)),
            field("24h", pct(snapshot.change_24h_pct)),
            field("24h turnover", num(snapshot.turnover_24h, 2, " USD")),
        ]
    inst: list[dict[str, Any]] = []
    if snapshot is not None:
        inst += [
            field("Open interest", num(snapshot.open_interest_value, 2, " USD")),
            field("OI 1h", pct(snapshot.oi_change_1h_pct)),
            field("Funding", pct(snapshot.funding_rate * 100 if _finite(snapshot.funding_rate) else math.nan)),
        ]
    inst += [field(label(k), num(flat[k])) for k in inst_keys[:12]]
    outlook = [field(label(k), num(flat[k])) for k in other_keys[:12]] + _readings(alert)
    if composite_score is not None and _finite(composite_score):
        outlook.insert(0, field("Composite", f"{composite_score:.0f}/100"))
    outlook_text = [OUTLOOK.get(alert.kind.value, "Watch for confirmation before acting.")]
    if outlook_note:
        outlook_text.append(f"📊 {escape_markdown(outlook_note)}")
    if other_lines:
        outlook_text.append(_bullets(other_lines))

    payload = _base(username, sim, f"{icon} **{sev}** · {kind} · {symbol} · {CHANGE_WORDS.get(alert.change, 'update')}")
    last: dict[str, Any] = {
        "title": EMBED_TITLES[2], "description": "\n".join(outlook_text), "color": colour, "fields": outlook,
        "footer": _footer(f"Virtuoso · event id {alert.id} · {alert.severity.value}", sim), "timestamp": ts,
    }
    if image:
        last["image"] = {"url": f"attachment://{image}"}
    payload["embeds"] = [
        {"title": EMBED_TITLES[0], "description": "\n".join(body), "color": colour, "fields": overview, "timestamp": ts},
        {"title": EMBED_TITLES[1],
         "description": _bullets(inst_lines) if inst_lines else
         ("Open interest, funding, liquidations" if inst else "No institutional evidence recorded."),
         "color": colour, "fields": inst},
        last,
    ]
    return enforce_limits(payload)


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {(s % 3600) // 60} min"


def gap_message(gap: FeedGap, *, username: str = "Virtuoso", simulated: bool = False) -> dict[str, Any]:
    """The monitor was blind: which symbols, for how long, and whether the gap was backfilled."""
    symbols = ", ".join(escape_markdown(s, single_line=True) for s in gap.symbols[:50]) or "the watchlist"
    if len(gap.symbols) > 50:
        symbols += f" and {len(gap.symbols) - 50} more"
    if gap.backfilled:
        fill = (f"The gap was backfilled from the exchange's history ({gap.backfilled_bars} one-minute bars): charts "
                "and outcomes are whole again, but alerts that would have fired during it were missed.")
    else:
        why = f" ({escape_markdown(gap.backfill_error, single_line=True)})" if gap.backfill_error else ""
        fill = f"The gap could not be backfilled{why}: history has a hole and alerts during it were missed."
    payload = _base(username, simulated, f"⚠️ Monitor was blind for {_duration(gap.duration_s)}")
    payload["embeds"] = [{
        "title": f"Feed gap: {_duration(gap.duration_s)} without live data",
        "description": (f"Unmonitored: {symbols}.\nFrom {iso(gap.start_ms)[:19].replace('T', ' ')} to "
                        f"{iso(gap.end_ms)[:19].replace('T', ' ')} UTC ({escape_markdown(gap.cause, single_line=True)}).\n"
                        f"{fill}"),
        "color": NOTICE_COLOUR,
        "footer": _footer(f"Virtuoso · {gap.source} feed", simulated),
        "timestamp": iso(gap.end_ms),
    }]
    return enforce_limits(payload)


def heartbeat_message(day: str, counts: dict[str, int], gaps: int, *, username: str = "Virtuoso",
                      simulated: bool = False, ts_ms: int = 0) -> dict[str, Any]:
    """The daily heartbeat: the monitor is alive, with the last 24 hours' counts."""
    fields = [field(label(k), str(v)) for k, v in sorted(counts.items())] + [field("Feed gaps", str(gaps))]
    payload = _base(username, simulated, f"💓 Virtuoso heartbeat {day}")
    payload["embeds"] = [{
        "title": f"Daily heartbeat · {day}",
        "description": "The monitor is running. Counts of the last 24 hours:",
        "color": NOTICE_COLOUR, "fields": fields,
        "footer": _footer("Virtuoso heartbeat", simulated), "timestamp": iso(ts_ms),
    }]
    return enforce_limits(payload)


def trade_message(event: PaperTradeEvent, *, username: str = "Virtuoso", simulated: bool = False) -> dict[str, Any]:
    """A paper trade open or close as one embed."""
    sim = bool(simulated or event.simulated)
    symbol = escape_markdown(event.symbol, single_line=True)
    fields = [
        field("Price", num(event.price, 4)),
        field("Qty", num(event.qty, 4)),
        field("Notional", num(event.notional_usd, 2, " USD")),
        field("Confluence", f"{event.confluence_score:.0f}/100"),
        field("Reason", truncate(escape_markdown(event.reason, single_line=True), 200), inline=False),
    ]
    if event.action == TradeAction.CLOSE:
        fields.insert(3, field("PnL", num(event.pnl_usd, 2, " USD")))
    payload = _base(username, sim)
    payload["embeds"] = [{
        "title": f"Paper trade: {event.action.value.upper()} {event.side.value.upper()} {symbol}",
        "description": "Paper trading only; no order was placed.",
        "color": TRADE_COLOUR.get(event.action, 0x95A5A6),
        "fields": fields,
        "footer": _footer(f"Virtuoso · trade {event.id}", sim),
        "timestamp": iso(event.ts_event_ms),
    }]
    return enforce_limits(payload)


def test_message(ts_ms: int, *, username: str = "Virtuoso", simulated: bool = False) -> dict[str, Any]:
    """The message ``virtuoso discord-test`` sends."""
    payload = _base(username, simulated, "Virtuoso test message: the webhook works.")
    payload["embeds"] = [{
        "title": "Virtuoso webhook test",
        "description": "If you can read this, alerts will arrive here.",
        "color": SEVERITY_COLOUR[Severity.INFO],
        "footer": _footer("Virtuoso", simulated),
        "timestamp": iso(ts_ms),
    }]
    return enforce_limits(payload)


def with_attachment(payload: dict[str, Any], filename: str, attachment_id: str | int) -> dict[str, Any]:
    """The payload listing the one attachment the message should have after this request (v10
    semantics: an id of a kept attachment, or the index of a file uploaded with the request)."""
    out = dict(payload)
    out["attachments"] = [{"id": attachment_id, "filename": filename}]
    return out
