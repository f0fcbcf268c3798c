"""The detectors, in the order they are evaluated; each module has ``level`` and ``evidence``."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from virtuoso.detect import divergence, liquidation_cascade, oi_surge, price_move, pump_and_dump, volume_spike
from virtuoso.config import DetectionSettings
from virtuoso.detect.features import Features
from virtuoso.domain.alerts import AlertKind

DETECTORS: dict[AlertKind, ModuleType] = {
    AlertKind.OI_SURGE: oi_surge,
    AlertKind.VOLUME_SPIKE: volume_spike,
    AlertKind.PRICE_MOVE: price_move,
    AlertKind.OI_PRICE_DIVERGENCE: divergence,
    AlertKind.PUMP_AND_DUMP: pump_and_dump,
    AlertKind.LIQUIDATION_CASCADE: liquidation_cascade,
}

# Kinds that a market-wide move explains away (demoted to info on the symbols moving with it).
MARKET_EXPLAINED = (AlertKind.PRICE_MOVE, AlertKind.VOLUME_SPIKE, AlertKind.LIQUIDATION_CASCADE, AlertKind.PUMP_AND_DUMP)


def market_explained(kind: AlertKind, f: Features, th: DetectionSettings) -> Any:
    """Whether a market-wide move explains this kind's reading (a bool, or a mask on arrays).

    The kinds above always; a divergence only in its short-covering form (a market-wide rally
    squeezes shorts on every coin), not shorts crowding into one coin while the market moves."""
    if kind in MARKET_EXPLAINED:
        return True
    if kind is AlertKind.OI_PRICE_DIVERGENCE:
        return divergence.oi_falling(f, th)
    return False
