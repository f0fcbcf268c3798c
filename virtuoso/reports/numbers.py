"""How numbers are written for a trader, shared by the PDF and the dashboard (pure, no I/O).

One format per column (:func:`scaled_column`: every cell in the column's unit, named once in the
header), prices at the instrument's tick (:func:`price_decimals`), shares that never round a
non-zero side away (:func:`share_pct`), and readings without scientific notation (:func:`reading`).
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

DASH = "\u2013"
MAX_PRICE_DECIMALS = 8
_SCALES = ((1e9, "B"), (1e6, "M"), (1e3, "k"))


def finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def magnitude_decimals(x: float) -> int:
    """Decimals that show about six significant digits (87,712.4 -> 1; 0.012345 -> 6)."""
    if not finite(x) or x == 0:
        return 2
    return int(min(MAX_PRICE_DECIMALS, max(0, 5 - math.floor(math.log10(abs(x))))))


def price_decimals(prices: Iterable[Any]) -> int:
    """The instrument's tick precision, read from the prices it was quoted at.

    Bybit quotes every price on the instrument's tick (BTCUSDT 0.1, DOGEUSDT 0.00001), so the
    fewest decimals that represent every observed price exactly is the tick's. Prices that carry
    float noise (a simulator's, or averages) fall back to about six significant digits.
    """
    seen = [float(p) for p in prices if finite(p) and p != 0]
    if not seen:
        return 2
    cap = magnitude_decimals(max(seen, key=abs))
    worst = 0
    for p in seen:
        for d in range(MAX_PRICE_DECIMALS + 1):
            if abs(round(p, d) - p) <= 1e-9 * max(1.0, abs(p)):
                break
        else:
            return cap
        worst = max(worst, d)
    return min(worst, cap + 2)


def price(x: Any, decimals: int | None = None) -> str:
    """A price with thousands separators at the tick's decimals: 87,816.5."""
    if not finite(x):
        return DASH
    d = magnitude_decimals(x) if decimals is None else int(decimals)
    return f"{x:,.{d}f}"


def scale_for(values: Iterable[Any]) -> tuple[float, str]:
    """The one unit a column of amounts is written in: (divisor, 'M') by its largest value."""
    top = max((abs(v) for v in values if finite(v)), default=0.0)
    for div, suffix in _SCALES:
        if top >= div:
            return div, suffix
    return 1.0, ""


def scaled_column(values: Sequence[Any], unit: str = "USD", digits: int = 2) -> tuple[str, list[str]]:
    """Every cell of a column in the same unit: ('M USD', ['185.12', '0.23']) instead of '185M' beside '228,490'."""
    div, suffix = scale_for(values)
    d = 0 if div == 1.0 and digits <= 2 else digits
    cells = [f"{v / div:,.{d}f}" if finite(v) else DASH for v in values]
    return (f"{suffix} {unit}".strip() if suffix else unit), cells


def amount(x: Any, unit: str = "USD", digits: int = 2) -> str:
    """One amount with its unit, in a sentence: 185.12 M USD, 228.49 k USD, 554 USD."""
    if not finite(x):
        return DASH
    div, suffix = scale_for([x])
    if div == 1.0:
        return f"{x:,.0f} {unit}"
    return f"{x / div:,.{digits}f} {suffix} {unit}"


def signed_pct(x: Any, digits: int = 2) -> str:
    return DASH if not finite(x) else f"{x:+.{digits}f} %"


def share_pct(part: float, whole: float) -> str:
    """part/whole as a percent that never shows 100 % (or 0 %) while the other side is not zero."""
    if not (finite(part) and finite(whole)) or whole <= 0:
        return DASH
    p = part / whole * 100.0
    if p <= 0 or p >= 100:
        return f"{p:.0f} %"
    for d in (0, 1, 2):
        text = f"{p:.{d}f}"
        if 0 < float(text) < 100:
            return f"{text} %"
    return "<0.01 %" if p < 50 else ">99.99 %"


def reading(v: Any) -> str:
    """A measured value for a sentence, never in scientific notation: 44,680,000 / 1.5 / 0.00012."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if not math.isfinite(v):
        return DASH
    if isinstance(v, int) or abs(v) >= 1_000:
        return f"{v:,.0f}"
    if abs(v) >= 0.0001 or v == 0:
        return f"{v:,.4f}".rstrip("0").rstrip(".")
    return f"{v:.10f}".rstrip("0").rstrip(".")


_UNIT_SUFFIXES = (("_usd", " USD"), ("_pct", " %"), ("_ratio", "x"), ("_sigma", " sigma"), ("_ms", " ms"),
                  ("_s", " s"), ("_min", " min"))


def reading_line(name: str, v: Any) -> str:
    """'liquidations_usd_1m' = 4.468e7 -> 'liquidations usd 1m: 44,680,000'; a trailing unit is spelled out."""
    unit = ""
    for suffix, label in _UNIT_SUFFIXES:
        if name.endswith(suffix):
            name, unit = name[: -len(suffix)], label
            break
    return f"{name.replace('_', ' ')}: {reading(v)}{unit}"


def evidence_lines(evidence: Mapping[str, Any]) -> list[str]:
    """An event's evidence in words, one line per reading: its own ``lines`` when it has them (every
    event since the evidence-in-words release), else each flat reading written out with its unit."""
    lines = evidence.get("lines")
    if isinstance(lines, (list, tuple)) and lines:
        return [str(x) for x in lines]
    return [reading_line(str(k), v) for k, v in evidence.items() if not isinstance(v, (Mapping, list, tuple))]


def evidence_summary(evidence: Mapping[str, Any], limit: int) -> str:
    """The evidence for one table cell: whole lines in words up to ``limit`` characters (the first
    line always whole), then how many readings were left out; never a number cut with an ellipsis."""
    lines = evidence_lines(evidence)
    kept: list[str] = []
    for line in lines:
        if kept and sum(len(x) + 2 for x in kept) + len(line) > limit:
            break
        kept.append(line)
    rest = len(lines) - len(kept)
    return "; ".join(kept) + (f" (+{rest} more reading{'s' if rest > 1 else ''})" if rest else "")
