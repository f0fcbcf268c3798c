"""Threshold tuning: slider specs read from ``DetectionSettings``, presets, and the backtest seam.

Slider ranges, steps, units and descriptions come from each field's ``json_schema_extra`` and
``description``, so adding a threshold to the settings adds its slider. The backtest the page
previews with is :mod:`virtuoso.detect.backtest` (pure).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from virtuoso.config import DetectionSettings
from virtuoso.detect import backtest

PRESETS = ("conservative", "balanced", "aggressive")
# How far a preset moves a setting from the balanced default (stricter = fewer flags): floors are
# raised by the factor, alert budgets (per day) divided by it. The backtest's property test holds
# each floor and budget to "stricter never adds a flag".
_PRESET_FACTOR = {"conservative": 1.5, "balanced": 1.0, "aggressive": 0.67}
_BUDGET_UNIT = "/day"
_SHARE_SUFFIX = "_share"
_WINDOW_UNITS = {"s", "min", "h"}  # windows and history lengths are not levels: presets keep them


@dataclass(frozen=True, slots=True)
class SliderSpec:
    name: str
    label: str
    unit: str
    lo: float
    hi: float
    step: float
    default: float
    is_int: bool
    description: str

    @property
    def format(self) -> str:
        """printf format for the slider: as many decimals as the step has."""
        if self.is_int or self.step >= 1:
            return "%d"
        return f"%.{self.decimals}f"

    @property
    def decimals(self) -> int:
        """Decimals of the step (0.05 -> 2)."""
        text = f"{self.step:.10f}".rstrip("0")
        return max(0, len(text.split(".")[1])) if "." in text else 0

    def clamp(self, v: float) -> float | int:
        """Snap to the slider's step and range (and to int for integer fields)."""
        v = min(max(float(v), self.lo), self.hi)
        snapped = self.lo + round((v - self.lo) / self.step) * self.step
        snapped = min(max(snapped, self.lo), self.hi)
        if self.is_int:
            return int(round(snapped))
        return round(snapped, self.decimals + 1)


def slider_specs() -> list[SliderSpec]:
    """One spec per detection threshold, in the settings' declaration order."""
    specs = []
    for name, field in DetectionSettings.model_fields.items():
        extra: Mapping[str, Any] = field.json_schema_extra if isinstance(field.json_schema_extra, Mapping) else {}
        if not {"min", "max", "step"} <= set(extra):
            continue
        is_int = field.annotation is int
        unit = str(extra.get("unit", ""))
        specs.append(SliderSpec(
            name=name, label=_label(name, unit), unit=unit,
            lo=float(extra["min"]), hi=float(extra["max"]), step=float(extra["step"]),
            default=float(field.default), is_int=is_int, description=field.description or "",
        ))
    return specs


_UNIT_SUFFIX = {"s": "_s", "min": "_min", "%": "_pct", "USD": "_usd", "frac": "_frac", "sigma": "_sigma",
                "/day": "_per_day", "h": "_hours", "x": "_ratio"}


def _label(name: str, unit: str) -> str:
    """'oi_surge_pct' -> 'OI surge' (the unit is shown separately)."""
    suffix = _UNIT_SUFFIX.get(unit, "")
    if suffix and name.endswith(suffix):
        name = name[: -len(suffix)]
    words = name.split("_")
    words[0] = words[0].capitalize()
    return " ".join("OI" if w.lower() == "oi" else w for w in words)


def preset(name: str) -> dict[str, float | int]:
    """Threshold values of a preset; 'balanced' is the settings' defaults."""
    factor = _PRESET_FACTOR[name]
    out: dict[str, float | int] = {}
    for s in slider_specs():
        if s.unit in _WINDOW_UNITS or factor == 1.0:
            out[s.name] = s.clamp(s.default)
        elif s.unit == _BUDGET_UNIT:
            out[s.name] = s.clamp(s.default / factor)
        elif s.name.endswith(_SHARE_SUFFIX):
            out[s.name] = s.clamp(0.5 + (s.default - 0.5) * factor)
        else:
            out[s.name] = s.clamp(s.default * factor)
    return out


def values_of(thresholds: DetectionSettings) -> dict[str, float | int]:
    """Slider values for a threshold set (snapped, so the sliders accept them)."""
    specs = {s.name: s for s in slider_specs()}
    return {k: specs[k].clamp(v) for k, v in thresholds.model_dump().items() if k in specs}


def build(base: DetectionSettings, values: Mapping[str, Any]) -> DetectionSettings:
    """A validated threshold set from slider values (raises pydantic's error on a bad value)."""
    return DetectionSettings(**{**base.model_dump(), **dict(values)})


def changed(a: DetectionSettings, b: DetectionSettings) -> list[str]:
    """Names of thresholds that differ between two sets."""
    da, db = a.model_dump(), b.model_dump()
    return [k for k in da if da[k] != db.get(k)]


def preview_minutes_needed() -> int:
    """Minutes of 1-minute history a symbol needs before the backtest can grade it (its scales exist)."""
    from virtuoso.detect.baselines import MIN_MINUTES

    return int(MIN_MINUTES)


def history_shortfall(history: Mapping[str, Sequence[Any]], need_min: int) -> dict[str, int]:
    """Per symbol with too little history for the preview, how many more minutes it needs."""
    return {sym: need_min - len(bars) for sym, bars in history.items() if len(bars) < need_min}


def shortfall_text(short: Mapping[str, int], need_min: int) -> str:
    """'The preview grades a symbol once it has 10 minutes of history: BTCUSDT needs 7 more minutes, ...'."""
    parts = [f"{sym} needs {n} more minute{'s' if n != 1 else ''}" for sym, n in sorted(short.items(), key=lambda kv: (-kv[1], kv[0]))]
    shown = ", ".join(parts[:6]) + (f" and {len(parts) - 6} more symbols" if len(parts) > 6 else "")
    return f"The preview grades a symbol once it has {need_min} minutes of 1-minute history: {shown}."


@dataclass(frozen=True, slots=True)
class Backtest:
    """The detection engineer's pure backtest functions (:mod:`virtuoso.detect.backtest`)."""

    flags: Callable[..., list[Any]]
    counts: Callable[[Sequence[Any]], dict[str, dict[str, int]]]


def load_backtest() -> Backtest:
    """The backtest the tuning page previews with."""
    return Backtest(flags=backtest.backtest_flags, counts=backtest.flag_counts)
