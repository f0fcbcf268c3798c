"""market_move: the whole market moving at once, told once, as one event on ``MARKET``.

Reads ``market_{60,300,900}``: the liquidity-weighted median of every symbol's beta-scaled return
(:mod:`virtuoso.detect.market_factor`) in sigmas of the factor's own volatility, judged against the
factor's own history. Gates: at least 60 % of the symbols (and three) moving the same way by two of
their own sigmas (breadth), and the factor moving at least ``market_move_min_pct``. Each symbol's
readings have the market's share taken out, so a market-wide crash is this one event, not one alert
per coin; a crash like 2025-10-10's (alts down far more than BTC, liquidations everywhere) is
critical at once through the absolute rule below, whatever the calibration says.
"""

from __future__ import annotations

from typing import Any

from virtuoso.config import DetectionSettings
from virtuoso.detect import words
from virtuoso.detect.calibration import TailModel
from virtuoso.domain.alerts import AlertKind

KIND = AlertKind.MARKET_MOVE
WINDOWS_S = (60, 300, 900)
MODEL = {w: TailModel(body_xi=0.18, tail_xi=0.4, cluster_min=max(1.0, w / 60.0)) for w in WINDOWS_S}
MIN_SYMBOLS = 3
BREADTH = 0.6
BREADTH_SIGMAS = 2.0
CRASH_MULTIPLE = 5.0  # a factor move of this many floors is critical whatever the calibration says


def describe(move_pct: float, window_s: int, moving: int, symbols: int, liq_usd: float, stat: float,
             alarm: float) -> tuple[dict[str, Any], str]:
    values = {"window_s": window_s, "market_move_pct": move_pct, "symbols_moving": moving, "symbols": symbols,
              "liquidations_5m_usd": liq_usd, "sigmas": stat, "alarm_sigmas": alarm}
    side = "up" if move_pct > 0 else "down"
    line = (f"Market {words.pct(move_pct)} in {words.window(window_s)}: {moving} of {symbols} symbols {side} by two of "
            f"their own sigmas or more; liquidations {words.usd(liq_usd)} in 5 min ({words.times(stat)} the market's "
            f"usual move, alarm at {words.times(alarm)})")
    return values, line


def crash(move_pct: float, th: DetectionSettings) -> bool:
    return abs(move_pct) >= CRASH_MULTIPLE * th.market_move_min_pct
