"""Discord webhook payloads (pure): three embeds per alert, a digest for bursts, trade and test messages.

Every builder returns a payload that already satisfies Discord's documented limits
(https://discord.com/developers/docs/resources/message#embed-object-embed-limits): content 2,000;
at most 10 embeds; title 256; description 4,096; at most 25 fields; field name 256 and value
1,024; footer 2,048; author 256; all embed text together at most 6,000. Text that does not fit is
cut and ends with an ellipsis instead of being rejected by Discord. Lengths are counted in UTF-16
code units (what Discord's JavaScript front end counts), which is never less than Python's ``len``.

Text from alerts is untrusted (a symbol or message may carry markdown or ``@everyone``): it is
escaped, and every payload carries ``allowed_mentions: {"parse": []}`` so nothing pings anyone.
Simulated data is labelled in the content line and the footer; real data never is.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Sequence

from virtuoso.domain.alerts import Alert, Severity
from virtuoso.domain.trades import PaperTradeEvent, TradeAction
from virtuoso.state.snapshot import SymbolSnapshot

CONTENT_MAX = 2000
EMBEDS_MAX = 10
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
AUTHOR_MAX = 256
TOTAL_EMBED_TEXT_MAX = 6000
USERNAME_MAX = 80
ELLIPSIS = "…"
EMPTY = "—"  # Discord rejects empty field names and values
SIMULATED_LABEL = "SIMULATED DATA - not real market activity"
DIGEST_MAX_ALERTS = 20  # lines per digest; the rest waits for the next digest (nothing is dropped)

SEVERITY_COLOUR = {
    Severity.INFO: 0x3498DB,
    Severity.WATCH: 0xF1C40F,
    Severity.HIGH: 0xE67E22,
    Severity.CRITICAL: 0xE74C3C,
}
SEVERITY_ICON = {Severity.INFO: "🔵", Severity.WATCH: "🟡", Severity.HIGH: "🟠", Severity.CRITICAL: "🔴"}
TRADE_COLOUR = {TradeAction.OPEN: 0x2ECC71, TradeAction.CLOSE: 0x95A5A6}

OUTLOOK = {
    "oi_surge": "Leverage is building fast. Expect volatility; a squeeze against the crowded side is common.",
    "volume_spike": "Unusual participation. Wait for price follow-through before reading it as a trend.",
    "price_move": "Outsized move for current volatility. Continuation or snap-back: wait for confirmation.",
    "oi_price_divergence": "Positions are being added while price is flat: often positioning ahead of a move.",
    "pump_and_dump": "Fast rise on volume, then a give-back: the pump-and-dump shape. Do not chase.",
    "liquidation_cascade": "Forced liquidations are moving price; it can continue until open interest resets.",
}
_INSTITUTIONAL_KEYS = ("oi", "open_interest", "liq", "large", "whale", "block", "trade", "funding")

_MD_SPECIAL = re.compile(r"([\\*_~`|>#\[\]()<:])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# ---------------------------------------------------------------------------------------- text


def utf16_len(text: str) -> int:
    """Length as Discord counts it (UTF-16 code units)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` UTF-16 units, ending with an ellipsis when it was cut."""
    if utf16_len(text) <= limit:
        return text
    out: list[str] = []
    used = 0
    budget = limit - 1
    for ch in text:
        w = 2 if ord(ch) > 0xFFFF else 1
        if used + w > budget:
            break
        out.append(ch)
        used += w
    return "".join(out) + ELLIPSIS


def escape_markdown(text: Any, single_line: bool = False) -> str:
    """Neutralise markdown and mentions in untrusted text so it renders literally."""
    s = str(text)
    if single_line:
        s = _CONTROL.sub(" ", s)
    else:
        s = _CONTROL.sub(lambda m: m.group(0) if m.group(0) == "\n" else " ", s)
    s = _MD_SPECIAL.sub(r"\\\1", s)
    return s.replace("@", "@\u200b")


def _num(value: Any, digits: int = 2, suffix: str = "") -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return escape_markdown(value, single_line=True)[:80]
    if math.isnan(v) or math.isinf(v):
        return "n/a"
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:.{digits}f}B{suffix}"
    if a >= 1e6:
        return f"{v / 1e6:.{digits}f}M{suffix}"
    if a >= 1e4:
        return f"{v / 1e3:.{digits}f}K{suffix}"
    if a != 0 and a < 0.01:
        return f"{v:.6g}{suffix}"
    return f"{v:,.{digits}f}{suffix}"


def _pct(value: Any) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "n/a"
    if math.isnan(v) or math.isinf(v):
        return "n/a"
    return f"{v:+.2f}%"


def _label(key: str) -> str:
    return escape_markdown(str(key).replace("_", " "), single_line=True)


def _iso(ts_ms: int) -> str:
    try:
        return datetime.fromtimestamp(int(ts_ms) / 1000, tz=timezone.utc).isoformat(timespec="milliseconds")
    except (OverflowError, OSError, ValueError):
        return datetime.fromtimestamp(0, tz=timezone.utc).isoformat(timespec="milliseconds")


def _field(name: str, value: str, inline: bool = True) -> dict[str, Any]:
    return {"name": name or EMPTY, "value": value or EMPTY, "inline": inline}


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


# ---------------------------------------------------------------------------------------- messages


def alert_message(alert: Alert, snapshot: SymbolSnapshot | None = None, composite_score: float | None = None,
                  *, username: str = "Virtuoso", simulated: bool = False) -> dict[str, Any]:
    """One alert as three embeds: Market Overview, Institutional Activity, Trading Outlook."""
    sim = bool(simulated or alert.simulated)
    colour = SEVERITY_COLOUR.get(alert.severity, 0x95A5A6)
    symbol = escape_markdown(alert.symbol, single_line=True)
    kind = alert.kind.value.replace("_", " ")
    sev = alert.severity.value.upper()
    ts = _iso(alert.ts_event_ms)
    footer = _footer(f"Virtuoso · id {alert.id} · {alert.severity.value}", sim)
    evidence = dict(alert.evidence)
    inst_keys = [k for k in evidence if any(t in str(k).lower() for t in _INSTITUTIONAL_KEYS)]
    other_keys = [k for k in evidence if k not in inst_keys]

    overview = [_field("Score", f"{alert.score:.0f}/100")]
    if snapshot is not None:
        overview += [
            _field("Price", _num(snapshot.last_price, 4)),
            _field("1h", _pct(snapshot.change_1h_pct)),
            _field("24h", _pct(snapshot.change_24h_pct)),
            _field("24h turnover", _num(snapshot.turnover_24h, 2, " USD")),
        ]
    inst: list[dict[str, Any]] = []
    if snapshot is not None:
        inst += [
            _field("Open interest", _num(snapshot.open_interest_value, 2, " USD")),
            _field("OI 1h", _pct(snapshot.oi_change_1h_pct)),
            _field("Funding", _pct(snapshot.funding_rate * 100 if _finite(snapshot.funding_rate) else math.nan)),
        ]
    inst += [_field(_label(k), _num(evidence[k])) for k in inst_keys[:12]]
    outlook = [_field(_label(k), _num(evidence[k])) for k in other_keys[:12]]
    if composite_score is not None and _finite(composite_score):
        outlook.insert(0, _field("Composite", f"{composite_score:.0f}/100"))

    payload = _base(username, sim)
    payload["embeds"] = [
        {
            "title": f"{SEVERITY_ICON.get(alert.severity, '')} {sev} · {kind} · {symbol}",
            "description": escape_markdown(alert.message) if alert.message else f"{kind} on {symbol}",
            "color": colour,
            "fields": overview,
            "timestamp": ts,
        },
        {
            "title": "Institutional Activity",
            "description": "Open interest, large trades, liquidations" if inst else "No institutional evidence recorded.",
            "color": colour,
            "fields": inst,
        },
        {
            "title": "Trading Outlook",
            "description": OUTLOOK.get(alert.kind.value, "Watch for confirmation before acting."),
            "color": colour,
            "fields": outlook,
            "footer": footer,
            "timestamp": ts,
        },
    ]
    return enforce_limits(payload)


def digest_message(alerts: Sequence[Alert], *, window_s: float, username: str = "Virtuoso",
                   simulated: bool = False) -> dict[str, Any]:
    """A burst of alerts as one embed, one line each (at most DIGEST_MAX_ALERTS; callers batch)."""
    shown = list(alerts)[:DIGEST_MAX_ALERTS]
    sim = bool(simulated or any(a.simulated for a in shown))
    top = max((a.severity for a in shown), key=lambda s: s.rank, default=Severity.INFO)
    lines = [
        f"{SEVERITY_ICON.get(a.severity, '')} **{a.severity.value.upper()}** "
        f"{truncate(escape_markdown(a.symbol, single_line=True), 40)} · {a.kind.value.replace('_', ' ')} · "
        f"score {a.score:.0f} · id {a.id}"
        for a in shown
    ]
    payload = _base(username, sim)
    payload["embeds"] = [{
        "title": f"Digest: {len(shown)} alerts within {window_s:g} s",
        "description": "\n".join(lines) or EMPTY,
        "color": SEVERITY_COLOUR.get(top, 0x95A5A6),
        "footer": _footer("Virtuoso digest", sim),
        "timestamp": _iso(max((a.ts_event_ms for a in shown), default=0)),
    }]
    return enforce_limits(payload)


def trade_message(event: PaperTradeEvent, *, username: str = "Virtuoso", simulated: bool = False) -> dict[str, Any]:
    """A paper trade open or close as one embed."""
    sim = bool(simulated or event.simulated)
    symbol = escape_markdown(event.symbol, single_line=True)
    fields = [
        _field("Price", _num(event.price, 4)),
        _field("Qty", _num(event.qty, 4)),
        _field("Notional", _num(event.notional_usd, 2, " USD")),
        _field("Confluence", f"{event.confluence_score:.0f}/100"),
        _field("Reason", truncate(escape_markdown(event.reason, single_line=True), 200), inline=False),
    ]
    if event.action == TradeAction.CLOSE:
        fields.insert(3, _field("PnL", _num(event.pnl_usd, 2, " USD")))
    payload = _base(username, sim)
    payload["embeds"] = [{
        "title": f"Paper trade: {event.action.value.upper()} {event.side.value.upper()} {symbol}",
        "description": "Paper trading only; no order was placed.",
        "color": TRADE_COLOUR.get(event.action, 0x95A5A6),
        "fields": fields,
        "footer": _footer(f"Virtuoso · trade {event.id}", sim),
        "timestamp": _iso(event.ts_event_ms),
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
        "timestamp": _iso(ts_ms),
    }]
    return enforce_limits(payload)


def _finite(v: Any) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


# ---------------------------------------------------------------------------------------- limits


def embed_text_len(embeds: Iterable[Mapping[str, Any]]) -> int:
    """Characters Discord counts towards the 6,000 total across a message's embeds."""
    total = 0
    for e in embeds:
        total += utf16_len(e.get("title") or "") + utf16_len(e.get("description") or "")
        total += utf16_len((e.get("footer") or {}).get("text") or "")
        total += utf16_len((e.get("author") or {}).get("name") or "")
        for f in e.get("fields") or []:
            total += utf16_len(f.get("name") or "") + utf16_len(f.get("value") or "")
    return total


def enforce_limits(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``payload`` cut to Discord's limits (per-field first, then the 6,000 total)."""
    out = dict(payload)
    out["content"] = truncate(str(out.get("content") or ""), CONTENT_MAX)
    embeds = []
    for e in list(out.get("embeds") or [])[:EMBEDS_MAX]:
        e = dict(e)
        if "title" in e:
            e["title"] = truncate(str(e["title"]), TITLE_MAX)
        if "description" in e:
            e["description"] = truncate(str(e["description"]), DESCRIPTION_MAX)
        if "footer" in e:
            e["footer"] = {**e["footer"], "text": truncate(str(e["footer"].get("text") or ""), FOOTER_MAX)}
        if "author" in e:
            e["author"] = {**e["author"], "name": truncate(str(e["author"].get("name") or ""), AUTHOR_MAX)}
        e["fields"] = [
            {**f, "name": truncate(str(f.get("name") or EMPTY), FIELD_NAME_MAX),
             "value": truncate(str(f.get("value") or EMPTY), FIELD_VALUE_MAX)}
            for f in list(e.get("fields") or [])[:FIELDS_MAX]
        ]
        embeds.append(e)
    _fit_total(embeds)
    out["embeds"] = embeds
    return out


def _fit_total(embeds: list[dict[str, Any]]) -> None:
    """Shorten the longest texts (later embeds first) until the message fits in 6,000."""
    excess = embed_text_len(embeds) - TOTAL_EMBED_TEXT_MAX
    if excess <= 0:
        return
    # (getter, setter) pairs in the order we prefer to shorten: descriptions, values, footers, names, titles
    slots: list[tuple[dict[str, Any], str]] = []
    for e in reversed(embeds):
        if e.get("description"):
            slots.append((e, "description"))
    for e in reversed(embeds):
        slots += [(f, "value") for f in reversed(e["fields"])]
    for e in reversed(embeds):
        if "footer" in e:
            slots.append((e["footer"], "text"))
        if "author" in e:
            slots.append((e["author"], "name"))
    for e in reversed(embeds):
        slots += [(f, "name") for f in reversed(e["fields"])]
        if e.get("title"):
            slots.append((e, "title"))
    for holder, key in slots:
        if excess <= 0:
            return
        text = holder[key]
        n = utf16_len(text)
        keep = max(1, n - excess)
        if keep >= n:
            continue
        cut = truncate(text, keep) if keep > 1 else ELLIPSIS
        excess -= n - utf16_len(cut)
        holder[key] = cut
