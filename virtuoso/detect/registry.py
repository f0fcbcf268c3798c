"""The detectors, in the order they are evaluated; each module has ``level`` and ``evidence``."""

from __future__ import annotations

from types import ModuleType

from virtuoso.detect import divergence, liquidation_cascade, oi_surge, price_move, pump_and_dump, volume_spike
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
