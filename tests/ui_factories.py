"""Test factories for the dashboard: an in-memory MonitorView twin with a day of plausible history.

``FakeView`` implements :class:`virtuoso.app.view.MonitorView` on deterministic data: a random walk
per symbol with a pump-and-dump on SOLUSDT and an open-interest surge on ETHUSDT, a few alerts
(one with markup in its symbol and evidence), nested health sections, and thresholds that
``apply_thresholds`` changes. Tests set only what matters.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any, Sequence

from virtuoso.app.operator_marks import OperatorMarks
from virtuoso.app.view import SourceInfo
from virtuoso.config import DetectionSettings, Settings, load_settings
from virtuoso.domain.alerts import Alert, AlertKind, Severity, episode_id
from virtuoso.domain.bars import Bar
from virtuoso.domain.clock import ManualClock
from virtuoso.state.snapshot import SymbolSnapshot

T0_MS = 1_700_006_400_000  # a whole day, so history starts on a minute
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
EVIL_SYMBOL = "<b>EVIL</b>"


def ui_settings(data_dir: Path, **env: str) -> Settings:
    """Settings for UI tests: a temp data dir, simulator source, relay on a free port, nothing from .env."""
    environ = {"VIRTUOSO_DATA_DIR": str(data_dir), "VIRTUOSO_SOURCE": "simulator", "VIRTUOSO_RELAY__PORT": "0",
               "VIRTUOSO_SYMBOLS": ",".join(SYMBOLS), **env}
    return load_settings(environ=environ, env_file=None)


def make_bars(symbol: str, end_ms: int, minutes: int = 1_440, seed: int = 1, start_price: float | None = None,
              start_oi: float = 50_000.0) -> list[Bar]:
    """Closed 1-minute bars ending at ``end_ms``; SOLUSDT pumps and dumps, ETHUSDT's OI surges."""
    rng = random.Random(f"{symbol}:{seed}")
    price = start_price or {"BTCUSDT": 40_000.0, "ETHUSDT": 2_200.0, "SOLUSDT": 60.0}.get(symbol, 1.0)
    oi = start_oi
    bars = []
    start = end_ms - minutes * 60_000
    for i in range(minutes):
        t = start + i * 60_000
        ret = rng.gauss(0, 0.0008)
        volume = rng.uniform(80, 120)
        long_liq = short_liq = 0.0
        if symbol == "SOLUSDT" and minutes - 300 <= i < minutes - 290:  # pump: +1% a minute on heavy volume
            ret, volume = 0.01, volume * 12
        if symbol == "SOLUSDT" and minutes - 290 <= i < minutes - 282:  # dump and a liquidation cascade
            ret, volume, long_liq = -0.012, volume * 10, 20_000.0
        if symbol == "ETHUSDT" and minutes - 200 <= i < minutes - 190:  # OI surges with a flat price
            ret, oi = 0.0, oi * 1.02
        new = price * math.exp(ret)
        bars.append(Bar(symbol, t, 60, price, max(price, new) * 1.0005, min(price, new) * 0.9995, new,
                        volume=volume, turnover=volume * new, trade_count=int(volume), buy_volume=volume * 0.55,
                        sell_volume=volume * 0.45, open_interest=oi, funding_rate=0.0001,
                        long_liq_volume=long_liq, short_liq_volume=short_liq, simulated=True))
        price = new
        oi *= 1 + rng.gauss(0, 0.0005)
    return bars


def make_alert(symbol: str = "SOLUSDT", kind: AlertKind = AlertKind.PUMP_AND_DUMP, severity: Severity = Severity.HIGH,
               ts_ms: int = T0_MS - 3_600_000, score: float = 82.0, **evidence: Any) -> Alert:
    return Alert(episode_id(symbol, kind.value, ts_ms), symbol, kind, severity, score, ts_ms,
                 evidence or {"price_change_pct": 6.1, "volume_ratio": 9.5}, f"{kind.value} on {symbol}", simulated=True)


class FakeView(OperatorMarks):
    """In-memory MonitorView twin. ``tick()`` moves the clock and the prices like a live feed."""

    def __init__(self, settings: Settings, *, simulated: bool = True, symbols: Sequence[str] = SYMBOLS,
                 history_minutes: int = 1_440) -> None:
        self.settings = settings
        self.clock = ManualClock(T0_MS)
        self.db_path = Path(settings.data_dir) / "virtuoso.db"
        self.simulated = simulated
        self._symbols = tuple(symbols)
        self._bars = {s: make_bars(s, T0_MS, history_minutes) for s in self._symbols}
        self._last = {s: b[-1].close if b else 1.0 for s, b in self._bars.items()}
        self._thresholds = settings.detection
        self.applied: list[DetectionSettings] = []
        self.alerts_list = [
            make_alert(),
            make_alert("ETHUSDT", AlertKind.OI_SURGE, Severity.WATCH, T0_MS - 7_200_000, 55.0, oi_change_pct=4.2),
            make_alert(EVIL_SYMBOL, AlertKind.VOLUME_SPIKE, Severity.CRITICAL, T0_MS - 600_000, 97.0,
                       note="<script>alert(1)</script>"),
        ]
        self.health_calls = 0

    def tick(self, seconds: float = 1.0) -> None:
        self.clock.advance_s(seconds)
        for s in self._last:
            self._last[s] *= 1.0007

    # MonitorView ------------------------------------------------------------------------
    def source_info(self) -> SourceInfo:
        if self.simulated:
            return SourceInfo("simulator", True, "Bybit unreachable (test); showing SIMULATED data", T0_MS - 60_000)
        return SourceInfo("bybit", False, "Bybit reachable at wss://example", T0_MS - 60_000)

    def symbols(self) -> tuple[str, ...]:
        return self._symbols

    def snapshots(self) -> dict[str, SymbolSnapshot]:
        out = {}
        for s, bars in self._bars.items():
            last = self._last[s]
            hour_ago = bars[-60].close if len(bars) >= 60 else math.nan
            day_ago = bars[0].open if bars else math.nan
            out[s] = SymbolSnapshot(
                s, self.clock.now_ms(), last, last, last, bars[-1].open_interest if bars else math.nan,
                (bars[-1].open_interest * last) if bars else math.nan, 0.0001, 1e6, 1e8, last * 0.9999, last * 1.0001,
                (last / hour_ago - 1) * 100, (last / day_ago - 1) * 100,
                ((bars[-1].open_interest / bars[-60].open_interest - 1) * 100) if len(bars) >= 60 else math.nan,
                sum(b.volume for b in bars[-60:]), 6_000.0, self.simulated,
            )
        return out

    def bars_1m(self, symbol: str, minutes: int) -> list[Bar]:
        start = self.clock.now_ms() - minutes * 60_000
        return [b for b in self._bars.get(symbol, []) if b.start_ms >= start]

    def bars_1s(self, symbol: str, seconds: int) -> list[Bar]:
        return []

    def alerts(self, since_ms: int | None = None, symbols: Sequence[str] | None = None) -> list[Alert]:
        return [a for a in self.alerts_list if a.ts_event_ms >= (since_ms or 0) and (symbols is None or a.symbol in symbols)]

    def composite_scores(self) -> dict[str, float]:
        return {"BTCUSDT": 12.0, "ETHUSDT": 48.0, "SOLUSDT": 81.0}

    def scanner_rows(self) -> list[Any]:
        from virtuoso.app.scanner import BARS_NEEDED, scanner_rows

        bars = {s: self.bars_1m(s, BARS_NEEDED) for s in self._symbols}
        return scanner_rows(self._symbols, self.snapshots(), bars, self.composite_scores(), self.alerts_list)

    def health(self) -> dict[str, Any]:
        self.health_calls += 1
        return {
            "ts_ms": self.clock.now_ms(), "running": True,
            "source": {"name": "simulator", "simulated": self.simulated, "reason": "test", "started_ms": T0_MS - 60_000,
                       "streams": [{"topic": "tickers.BTCUSDT", "rate_per_s": 10.0, "age_s": 0.2}],
                       "reconnects": 0, "gaps": 1},
            "pipeline": {"messages": 1234, "malformed": 2, "queue_depth": 3, "queue_max": 100_000, "queue_dropped": 0},
            "storage": {"path": "/tmp/x.db", "size_bytes": 123_456, "writer": {"queued": 0, "written_bars": 10}},
            "bus": {"published_alerts": 3, "errors": {}},
            "sinks": {"discord": {"queued": 0, "sent": 4, "failed": 1}, "outbox_backlog": 2},
            "errors": [{"ts_ms": T0_MS - 5_000, "level": "WARNING", "logger": "virtuoso.x", "message": "a <b>warning</b>"}],
        }

    def thresholds(self) -> DetectionSettings:
        return self._thresholds

    def apply_thresholds(self, thresholds: DetectionSettings) -> None:
        self._thresholds = thresholds
        self.applied.append(thresholds)


class TickSource:
    """A Source twin that streams Bybit v5 ticker and trade messages on wall-clock time (~20 msg/s).

    It lets the real Engine run under the dashboard without the simulator: the same parser, market
    state, store and health paths, with prices that visibly move every second.
    """

    name = "simulator"
    simulated = True
    can_block = True

    def __init__(self, symbols: Sequence[str] = SYMBOLS, interval_s: float = 0.1) -> None:
        self.symbols = tuple(symbols)
        self.interval_s = interval_s
        self.sent = 0

    def run(self, emit: Any, stop: Any) -> None:
        import time

        rng = random.Random(3)
        price = {s: 100.0 * (i + 1) for i, s in enumerate(self.symbols)}
        n = 0
        while not stop.is_set():
            now_ms = time.time_ns() // 1_000_000
            s = self.symbols[n % len(self.symbols)]
            price[s] *= math.exp(rng.gauss(0, 0.0005))
            p = f"{price[s]:.4f}"
            emit({"topic": f"tickers.{s}", "type": "snapshot", "ts": now_ms,
                  "data": {"symbol": s, "lastPrice": p, "markPrice": p, "indexPrice": p, "openInterest": "1000",
                           "openInterestValue": f"{1000 * price[s]:.2f}", "fundingRate": "0.0001", "volume24h": "5000",
                           "turnover24h": "500000", "bid1Price": p, "bid1Size": "1", "ask1Price": p, "ask1Size": "1"}},
                 now_ms * 1_000_000)
            emit({"topic": f"publicTrade.{s}", "type": "snapshot", "ts": now_ms,
                  "data": [{"T": now_ms, "s": s, "S": "Buy" if n % 2 else "Sell", "v": "0.5", "p": p,
                            "L": "PlusTick", "i": f"t{n}", "BT": False}]}, now_ms * 1_000_000)
            self.sent += 2
            n += 1
            stop.wait(self.interval_s)

    def health(self) -> dict[str, Any]:
        return {"connected": True, "messages": self.sent}
