"""Discord text rules (pure): lengths as Discord counts them, markdown escaping, documented limits.

Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits):
content 2,000; at most 10 embeds; title 256; description 4,096; at most 25 fields; field name 256
and value 1,024; footer 2,048; author 256; all embed text together at most 6,000. Text that does
not fit is cut and ends with an ellipsis instead of being rejected by Discord. Lengths are counted
in UTF-16 code units (what Discord's JavaScript front end counts), never less than Python's ``len``.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

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


def num(value: Any, digits: int = 2, suffix: str = "") -> str:
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


def pct(value: Any) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "n/a"
    if math.isnan(v) or math.isinf(v):
        return "n/a"
    return f"{v:+.2f}%"


def label(key: str) -> str:
    return escape_markdown(str(key).replace("_", " "), single_line=True)


def iso(ts_ms: int) -> str:
    try:
        return datetime.fromtimestamp(int(ts_ms) / 1000, tz=timezone.utc).isoformat(timespec="milliseconds")
    except (OverflowError, OSError, ValueError):
        return datetime.fromtimestamp(0, tz=timezone.utc).isoformat(timespec="milliseconds")


def field(name: str, value: str, inline: bool = True) -> dict[str, Any]:
    return {"name": name or EMPTY, "value": value or EMPTY, "inline": inline}


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
