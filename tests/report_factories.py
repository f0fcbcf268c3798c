"""Report test data: plausible 1-minute bars and alerts, and an in-memory MonitorView twin.

Defaults make a sensible report; each test sets only what matters (simulated or not, symbols,
hours, alerts).
"""

from __future__ import annotations

import math
import random
from typing import Any, Sequence

from virtuoso.app.view import SourceInfo
from virtuoso.config import DetectionSettings, Settings
from virtuoso.domain.alerts import Alert, AlertKind, Severity, episode_id
from virtuoso.domain.bars import Bar
from virtuoso.domain.clock import ManualClock

NOW_MS = 1_700_006_400_000  # a whole hour (2023-11-15 00:00 UTC)
SYMBOLS = ("BTCUSDT", "ETHUSDT")
HOSTILE = '<img src="http://127.0.0.1:{port}/x">'


def make_bars(symbol: str, end_ms: int = NOW_MS, minutes: int = 120, price: float = 100.0,
              simulated: bool = True, seed: int = 1, liq_every: int = 17) -> list[Bar]:
    """A random walk of closed 1-minute bars ending at ``end_ms`` with OI, volume and some liquidations."""
    rng = random.Random(f"{symbol}-{seed}")
    out: list[Bar] = []
    oi = 10_000.0
    start = end_ms - minutes * 60_000
    for i in range(minutes):
        o = price
        price = max(0.01, price * math.exp(rng.gauss(0, 0.002)))
        vol = rng.lognormvariate(2.0, 0.5) * (1 + 0.5 * math.sin(i / 180))
        buy = vol * rng.uniform(0.3, 0.7)
        oi *= math.exp(rng.gauss(0, 0.001))
        liq = i % liq_every == 0
        out.append(Bar(
            symbol=symbol, start_ms=start + i * 60_000, interval_s=60, open=o, high=max(o, price) * 1.001,
            low=min(o, price) * 0.999, close=price, volume=vol, turnover=vol * price,
            trade_count=rng.randint(5, 50), buy_volume=buy, sell_volume=vol - buy, open_interest=oi,
            funding_rate=0.0001, long_liq_volume=rng.uniform(0, 5) if liq else 0.0,
            short_liq_volume=rng.uniform(0, 5) if liq and i % 2 else 0.0, simulated=simulated,
        ))
    return out


def make_alert(symbol: str = "BTCUSDT", ts_ms: int = NOW_MS - 30 * 60_000, kind: AlertKind = AlertKind.VOLUME_SPIKE,
               severity: Severity = Severity.HIGH, score: float = 72.0, simulated: bool = True,
               **evidence: Any) -> Alert:
    return Alert(id=episode_id(symbol, kind.value, ts_ms), symbol=symbol, kind=kind, severity=severity, score=score,
                 ts_event_ms=ts_ms, evidence=evidence or {"ratio": 6.2, "threshold": 5.0},
                 message=f"{kind.value} on {symbol}", simulated=simulated)


class MemoryView:
    """In-memory MonitorView twin over given bars and alerts; time stands still at ``now_ms``."""

    def __init__(self, bars: dict[str, list[Bar]], alerts: Sequence[Alert] = (), *, simulated: bool = True,
                 now_ms: int = NOW_MS, symbols: Sequence[str] | None = None, health: dict[str, Any] | None = None,
                 scores: dict[str, float] | None = None, settings: Settings | None = None) -> None:
        self.settings = settings or Settings(_env_file=None)  # type: ignore[call-arg]
        self.clock = ManualClock(now_ms)
        self._bars = bars
        self._alerts = list(alerts)
        self._symbols = tuple(symbols if symbols is not None else bars)
        self._info = SourceInfo("simulator" if simulated else "bybit", simulated,
                                "test twin", now_ms - 86_400_000)
        self._health = health if health is not None else {
            "source": {"name": self._info.name, "reason": "test twin", "reconnects": 2, "gaps_filled": 1},
            "pipeline": {"messages": 12345, "malformed": 3, "queue_dropped": 0},
            "sinks": {"discord": {"state": "idle", "sent": 4, "failed": 1, "backlog": 0, "last_error": "429"}},
        }
        self._scores = scores or {}

    def source_info(self) -> SourceInfo:
        return self._info

    def symbols(self) -> tuple[str, ...]:
        return self._symbols

    def snapshots(self) -> dict[str, Any]:
        return {}

    def bars_1m(self, symbol: str, minutes: int) -> list[Bar]:
        start = self.clock.now_ms() - minutes * 60_000
        return [b for b in self._bars.get(symbol, []) if b.start_ms >= start]

    def bars_1s(self, symbol: str, seconds: int) -> list[Bar]:
        return []

    def alerts(self, since_ms: int | None = None, symbols: Sequence[str] | None = None) -> list[Alert]:
        return [a for a in self._alerts if (since_ms is None or a.ts_event_ms >= since_ms)
                and (symbols is None or a.symbol in symbols)]

    def composite_scores(self) -> dict[str, float]:
        return dict(self._scores)

    def health(self) -> dict[str, Any]:
        return self._health

    def thresholds(self) -> DetectionSettings:
        return self.settings.detection

    def apply_thresholds(self, thresholds: DetectionSettings) -> None:
        raise NotImplementedError


def make_view(symbols: Sequence[str] = SYMBOLS, minutes: int = 120, simulated: bool = True,
              alerts_per_symbol: int = 2, **kw: Any) -> MemoryView:
    """A view with ``minutes`` of bars per symbol and a few alerts each."""
    bars = {s: make_bars(s, minutes=minutes, simulated=simulated, price=100.0 * (i + 1)) for i, s in enumerate(symbols)}
    kinds = list(AlertKind)
    alerts = [make_alert(s, NOW_MS - (10 + 7 * j + i) * 60_000, kinds[(i + j) % len(kinds)],
                         list(Severity)[(i + j) % 4], 50.0 + 10 * j, simulated=simulated)
              for i, s in enumerate(symbols) for j in range(alerts_per_symbol)]
    return MemoryView(bars, alerts, simulated=simulated, symbols=symbols, **kw)
