"""Evidence in words: how a reading is told to a trader (units on every number, no notation)."""

from __future__ import annotations

import math


def usd(x: float) -> str:
    """12,345 -> '12.3 k USD', 4.47e7 -> '44.7 M USD'."""
    if not math.isfinite(x):
        return "n/a"
    a = abs(x)
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"{x / div:,.1f} {unit} USD"
    return f"{x:,.0f} USD"


def pct(x: float, digits: int = 2) -> str:
    """Signed percent: '+1.25 %'."""
    return f"{x:+.{digits}f} %" if math.isfinite(x) else "n/a"


def times(x: float) -> str:
    """A multiple: '4.1x', '31x'."""
    if not math.isfinite(x):
        return "n/a"
    return f"{x:.1f}x" if abs(x) < 10 else f"{x:,.0f}x"


def window(seconds: int) -> str:
    """30 -> '30 s', 300 -> '5 min'."""
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min"


def share(x: float) -> str:
    return f"{x:.0%}" if math.isfinite(x) else "n/a"
