"""Test factories for detection: a noisy synthetic market of 1-second bars, fed straight to the runner.

``Market`` draws each symbol's seconds (a random walk with heavy-ish tails, Poisson trades of
lognormal sizes, taker sides, open interest as a random walk, rare small liquidations) so the
calibrated detectors see a market, not a flat line, and tests can bend it second by second (a
pump, a crash, one block print). ``run`` feeds a :class:`DetectionRunner` through the same read
the pipeline gives it (``bars_1s``), fast enough for hours of seconds in a unit test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from virtuoso.config import AlertPolicySettings, DetectionSettings
from virtuoso.detect.runner import DetectionRunner
from virtuoso.domain.alerts import Alert
from virtuoso.domain.bars import Bar

T0 = 1_736_121_600_000  # 2025-01-06 00:00 UTC, a whole minute


@dataclass
class Coin:
    """One symbol's normal behaviour."""

    symbol: str
    price: float = 100.0
    sigma_1m_pct: float = 0.1  # 1-minute volatility
    turnover_per_s: float = 20_000.0  # USD
    trades_per_s: float = 4.0
    oi: float = 1_000_000.0  # contracts
    oi_sigma_1m_pct: float = 0.02
    beta: float = 1.0
    t_df: float = 5.0  # Student-t shocks (heavier tails for a thin coin)


@dataclass
class Bend:
    """What a test changes in one second of one symbol (multiplicative or added)."""

    ret_pct: float = 0.0  # added to the second's return
    volume_mult: float = 1.0
    buy_share: float | None = None
    oi_pct: float = 0.0
    liq_usd: float = 0.0
    liq_long: bool = True
    block_usd: float = 0.0  # one block print (BT)
    print_usd: float = 0.0  # one ordinary print, not flagged


Shape = Callable[[str, int], Bend | None]


@dataclass
class Market:
    coins: list[Coin]
    seed: int = 1
    market_sigma_1m_pct: float = 0.08
    shape: Shape | None = None
    market_shape: Callable[[int], float] | None = None  # added market return per second, %
    _rng: np.random.Generator = field(init=False)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed)
        self._px = {c.symbol: c.price for c in self.coins}
        self._oi = {c.symbol: c.oi for c in self.coins}

    @property
    def symbols(self) -> list[str]:
        return [c.symbol for c in self.coins]

    def second(self, s: int) -> dict[str, Bar]:
        rng = self._rng
        mkt = rng.standard_normal() * self.market_sigma_1m_pct / math.sqrt(60.0)
        if self.market_shape is not None:
            mkt += self.market_shape(s)
        out = {}
        for c in self.coins:
            bend = (self.shape(c.symbol, s) if self.shape else None) or Bend()
            shock = rng.standard_t(c.t_df) * math.sqrt((c.t_df - 2) / c.t_df)
            idio = math.sqrt(max(c.sigma_1m_pct ** 2 - (c.beta * self.market_sigma_1m_pct) ** 2, 1e-6)) / math.sqrt(60.0)
            ret = c.beta * mkt + idio * shock + bend.ret_pct
            prev = self._px[c.symbol]
            px = prev * math.exp(ret / 100.0)
            self._px[c.symbol] = px
            n = max(1, rng.poisson(c.trades_per_s * bend.volume_mult))
            usd = float(np.sum(rng.lognormal(0.0, 1.0, n))) / (n * math.exp(0.5)) * c.turnover_per_s * bend.volume_mult
            share = bend.buy_share if bend.buy_share is not None else min(0.9, max(0.1, 0.5 + 0.3 * math.tanh(ret * 20)))
            block = bend.block_usd
            extra = bend.print_usd
            usd_all = usd + block + extra
            vol = usd_all / px
            self._oi[c.symbol] *= math.exp((rng.standard_normal() * c.oi_sigma_1m_pct / math.sqrt(60.0) + bend.oi_pct) / 100.0)
            liq = bend.liq_usd / px
            biggest = max(usd / n * 3.0, block, extra) / px
            out[c.symbol] = Bar(c.symbol, T0 + s * 1000, 1, prev, max(prev, px), min(prev, px), px, vol, usd_all, n + 1,
                                vol * share, vol * (1 - share), self._oi[c.symbol], 0.0001,
                                liq if bend.liq_long else 0.0, 0.0 if bend.liq_long else liq, False,
                                block / px, biggest)
        return out


class _State:
    """The read the runner makes of market state: each symbol's newest 1-second bars."""

    def __init__(self) -> None:
        self.bars: dict[str, list[Bar]] = {}

    def bars_1s(self, symbol: str, n: int | None = None) -> list[Bar]:
        return self.bars.get(symbol, [])


def run(market: Market, seconds: Iterable[int] | int, runner: DetectionRunner | None = None,
        thresholds: DetectionSettings | None = None, policy: AlertPolicySettings | None = None,
        on_second: Callable[[int, DetectionRunner], None] | None = None) -> tuple[list[Alert], DetectionRunner]:
    """Feed ``seconds`` of ``market`` to a runner (a new one unless given); every alert line."""
    runner = runner or DetectionRunner(thresholds or DetectionSettings(), policy or AlertPolicySettings(), market.symbols)
    state = _State()
    alerts: list[Alert] = []
    span = range(seconds) if isinstance(seconds, int) else seconds
    for s in span:
        state.bars = {k: [b] for k, b in market.second(s).items()}
        if on_second is not None:
            on_second(s, runner)
        alerts.extend(runner.on_second(state, T0 + (s + 1) * 1000))
    return alerts, runner


def watch_or_above(alerts: Iterable[Alert], after_s: int = 0) -> list[Alert]:
    """The first line at watch or above of each event raised after ``after_s`` seconds."""
    first: dict[str, Alert] = {}
    for a in alerts:
        if a.severity.rank >= 1 and a.ts_event_ms >= T0 + after_s * 1000:
            first.setdefault(a.id, a)
    return list(first.values())
