"""Checks the Bybit parser applies to wire values (pure): each returns the value or raises
:class:`MalformedMessage`, which the parser counts."""

from __future__ import annotations

import math
from typing import Any

from virtuoso.domain.events import Side

SIDES = {"Buy": Side.BUY, "Sell": Side.SELL}  # wire side -> Side


class MalformedMessage(ValueError):
    """A message that names a known topic but whose content cannot be read."""


def num(value: Any, *, positive: bool = False) -> float:
    """Bybit sends numbers as strings; reject anything that is not a finite number."""
    if isinstance(value, bool):
        raise MalformedMessage(f"boolean where a number was expected: {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise MalformedMessage(f"not a number: {value!r}") from None
    if not math.isfinite(x) or x < 0 or (positive and x == 0):
        raise MalformedMessage(f"out of range: {value!r}")
    return x


def ms(value: Any) -> int:
    """A millisecond timestamp (an int, or a string of one) within range."""
    if isinstance(value, bool):
        raise MalformedMessage(f"boolean where a timestamp was expected: {value!r}")
    try:
        ts = int(value)
    except (TypeError, ValueError):
        raise MalformedMessage(f"not a timestamp: {value!r}") from None
    if not 0 < ts < 10**14:
        raise MalformedMessage(f"timestamp out of range: {value!r}")
    return ts


def as_list(value: Any) -> list[Any]:
    """``value`` if it is a JSON array."""
    if not isinstance(value, list):
        raise MalformedMessage("data is not a list")
    return value


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object."""
    if not isinstance(value, dict):
        raise MalformedMessage("data is not an object")
    return value
