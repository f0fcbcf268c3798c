"""Formatting for the dashboard: numbers with units, ages, and escaping of untrusted text.

Pure functions; no Streamlit. Symbols and alert text come from the outside world, so anything
shown through Markdown goes through :func:`md_escape` (the dashboard never uses unsafe HTML).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from virtuoso.reports import numbers

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&])")


def md_escape(text: Any) -> str:
    """Text safe to embed in ``st.markdown``: Markdown and HTML characters are backslash-escaped."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def one_line(message: Any, limit: int = 300) -> str:
    """Collapse an error message to one readable line (no tracebacks, no multi-line dumps)."""
    text = " ".join(str(message).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


# One implementation for the dashboard and the PDF (virtuoso.reports.numbers).
MAX_PRICE_DECIMALS = numbers.MAX_PRICE_DECIMALS
_magnitude_decimals = numbers.magnitude_decimals
price_decimals = numbers.price_decimals


def price(x: Any, decimals: int | None = None) -> str:
    """A price with thousands separators at the tick's decimals (about six significant digits if unknown)."""
    if not is_num(x):
        return "–"
    digits = _magnitude_decimals(x) if decimals is None else int(decimals)
    return f"{x:,.{digits}f}"


def usd(x: Any) -> str:
    """An amount in US dollars, compact: 1234567 -> '1.23M USD'."""
    return "–" if not is_num(x) else f"{compact(x)} USD"


def duration(minutes: float) -> str:
    """A length of time for a sentence: '7 min', '1 h', '23 h 12 min', '2 d 4 h'."""
    m = max(0, int(math.ceil(minutes)))
    if m < 60:
        return f"{m} min"
    h, rest = divmod(m, 60)
    if h < 48:
        return f"{h} h" + (f" {rest} min" if rest else "")
    d, h = divmod(h, 24)
    return f"{d} d" + (f" {h} h" if h else "")


def after_history(what: str, need_min: float, have_min: float | None = None) -> str:
    """'24 h change: after 24 h of history (23 h 12 min more)': why a figure is not shown yet."""
    text = f"{what}: after {duration(need_min)} of history"
    if have_min is not None and math.isfinite(have_min) and need_min - have_min > 0:
        text += f" ({duration(need_min - have_min)} more)"
    return text


def pct(x: Any, digits: int = 2, signed: bool = True) -> str:
    if not is_num(x):
        return "–"
    return f"{x:+.{digits}f}%" if signed else f"{x:.{digits}f}%"


def compact(x: Any) -> str:
    """1234567 -> 1.23M, 228490 -> 228.49k, 554.4 -> 554; for volumes, open interest and USD amounts."""
    if not is_num(x):
        return "–"
    ax = abs(x)
    for div, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if ax >= div:
            return f"{x / div:.2f}{suffix}"
    return f"{x:.0f}" if ax >= 100 else f"{x:.2f}"


def funding(rate: Any) -> str:
    """Funding rate as a percentage per interval (Bybit publishes a fraction, e.g. 0.0001)."""
    return pct(rate * 100 if is_num(rate) else rate, digits=4)


def age(now_ms: int, then_ms: Any) -> str:
    """How long ago, e.g. '3.2 s', '5 min', '2.0 h'; '–' when never."""
    if not is_num(then_ms) or then_ms <= 0:
        return "–"
    s = max(0.0, (now_ms - then_ms) / 1000)
    if s < 90:
        return f"{s:.1f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    if s < 172_800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} d"


def utc(ts_ms: Any) -> str:
    """UTC time of a millisecond timestamp, 'YYYY-MM-DD HH:MM:SS'."""
    if not is_num(ts_ms) or ts_ms <= 0:
        return "–"
    return dt.datetime.fromtimestamp(ts_ms / 1000, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def value(key: str, v: Any, now_ms: int) -> str:
    """A health value made readable by its key's unit suffix (``_ms`` timestamps become ages)."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if v is None:
        return "–"
    if is_num(v):
        if key.endswith("_ms") or key == "ms":
            if v > 1e12:  # an epoch timestamp, not a duration
                return f"{utc(v)} ({age(now_ms, v)} ago)"
            return f"{v:,.0f} ms"
        if key.endswith(("_per_s", "_rate")):
            return f"{v:,.1f} /s"
        if key.endswith("_s"):
            return f"{v:,.2f} s" if isinstance(v, float) else f"{v:,} s"
        if key.endswith("_pct"):
            return pct(v, signed=False)
        if key.endswith("_bytes"):
            return compact(v) + "B"
        if isinstance(v, float):
            return f"{v:,.3f}".rstrip("0").rstrip(".")
        return f"{v:,}"
    if isinstance(v, (list, tuple)):
        return ", ".join(str(x) for x in v) or "–"
    return str(v)
