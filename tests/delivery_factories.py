"""Test factories for delivery: alert lines of events in the new shape, bars with known paths.

``line(...)`` is one line of an event (``change``, ``direction``, evidence ``lines`` and
``readings``), with the event id fixed by symbol and start time, so successive lines of one
event share it. Tests set only what matters.
"""

from __future__ import annotations

from typing import Any, Sequence

from virtuoso.domain.alerts import Alert, AlertKind, Change, Severity, event_id
from virtuoso.domain.bars import Bar

T0_MS = 1_700_000_040_000  # a whole minute
SYMBOL = "SOLUSDT"


def line(start_ms: int = T0_MS, ts_ms: int | None = None, symbol: str = SYMBOL,
         kind: AlertKind = AlertKind.PUMP_AND_DUMP, severity: Severity = Severity.WATCH,
         change: Change = Change.NEW, direction: int = 1, score: float = 60.0, simulated: bool = False,
         lines: Sequence[str] | None = None, **readings: Any) -> Alert:
    """One line of the event that opened at ``start_ms`` on ``symbol`` (``ts_ms`` defaults to the start)."""
    words = list(lines) if lines is not None else [
        f"Price +3.1 % in 5 min on {symbol}: 4.2x its usual 5-minute move",
        "Takers bought 71 % of 6.3x normal volume",
        "OI +1.4 % in 5 min while price rose",
    ]
    evidence = {"lines": words, "readings": readings or {kind.value: {"level": 1.6, "price_change_pct": 3.1}}}
    if kind is AlertKind.PUMP_AND_DUMP:
        evidence["phase"] = "dump" if change is Change.DUMP else "pump"
    return Alert(id=event_id(symbol, start_ms), symbol=symbol, kind=kind, severity=severity, score=score,
                 ts_event_ms=start_ms if ts_ms is None else ts_ms, evidence=evidence,
                 message=f"{kind.value} on {symbol}", simulated=simulated, ts_start_ms=start_ms, change=change,
                 direction=direction)


def event_lines(start_ms: int = T0_MS, symbol: str = SYMBOL, step_ms: int = 30_000, **kw: Any) -> list[Alert]:
    """An event's life: opened (watch), escalated (high), dump (critical), ended."""
    return [
        line(start_ms, start_ms, symbol, severity=Severity.WATCH, change=Change.NEW, **kw),
        line(start_ms, start_ms + step_ms, symbol, severity=Severity.HIGH, change=Change.ESCALATED, **kw),
        line(start_ms, start_ms + 2 * step_ms, symbol, severity=Severity.CRITICAL, change=Change.DUMP, **kw),
        line(start_ms, start_ms + 3 * step_ms, symbol, severity=Severity.CRITICAL, change=Change.ENDED, **kw),
    ]


def path_bars(symbol: str, start_ms: int, closes: Sequence[float], *, oi: Sequence[float] | None = None,
              funding: Sequence[float] | None = None, spread_pct: float = 0.0) -> list[Bar]:
    """1-minute bars with the given closes (each opening at the previous close), high/low ``spread_pct``
    beyond the body, and optional OI and funding paths."""
    bars = []
    prev = closes[0]
    for i, c in enumerate(closes):
        hi = max(prev, c) * (1 + spread_pct / 100)
        lo = min(prev, c) * (1 - spread_pct / 100)
        bars.append(Bar(symbol, start_ms + i * 60_000, 60, prev, hi, lo, c, volume=10.0, turnover=10.0 * c,
                        open_interest=oi[i] if oi is not None else float("nan"),
                        funding_rate=funding[i] if funding is not None else float("nan")))
        prev = c
    return bars


class DeliveryView:
    """The part of MonitorView delivery reads, in memory: snapshots, scores, source, bars by event time."""

    def __init__(self, simulated: bool = False, bars: dict[str, list[Bar]] | None = None) -> None:
        self.simulated = simulated
        self.bars = bars or {}

    def snapshots(self) -> dict[str, Any]:
        return {}

    def composite_scores(self) -> dict[str, float]:
        return {}

    def source_info(self) -> Any:
        from virtuoso.app.view import SourceInfo

        return SourceInfo("test", self.simulated, "test", 0)

    def bars_1m(self, symbol: str, minutes: int) -> list[Bar]:
        return list(self.bars.get(symbol, []))[-minutes:]

    def bars_1s(self, symbol: str, seconds: int) -> list[Bar]:
        return []

    def bars_between(self, symbol: str, start_ms: int, end_ms: int) -> list[Bar]:
        return [b for b in self.bars.get(symbol, []) if start_ms <= b.start_ms < end_ms]


def wait_for(pred: Any, timeout_s: float = 10.0) -> bool:
    """Poll ``pred`` until true or the (generous) deadline."""
    import time

    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return bool(pred())


def delivery(tmp_path: Any, view: Any = None, chart_mode: str = "inline", clock: Any = None,
             live_from_ms: Any = None, **sections: Any) -> tuple[Any, Any]:
    """A DeliveryService on ``tmp_path`` with only the given settings sections (relay and trading off
    unless given); returns (service, bus), not started."""
    from virtuoso.alerting.bus import AlertBus
    from virtuoso.config import Settings
    from virtuoso.domain.clock import SystemClock
    from virtuoso.app.delivery_build import build_sinks
    from virtuoso.sinks.delivery import DeliveryService

    sections.setdefault("relay", {"enabled": False})
    sections.setdefault("trading", {"enabled": False})
    s = Settings(_env_file=None, data_dir=tmp_path, **sections)
    bus = AlertBus()
    svc = DeliveryService(s, bus, view or DeliveryView(), tmp_path / "virtuoso.db", clock or SystemClock(),
                          build_sinks=build_sinks, live_from_ms=live_from_ms, chart_mode=chart_mode)
    return svc, bus


def sol_bars(end_ms: int = T0_MS + 120_000, minutes: int = 120, symbol: str = SYMBOL) -> list[Bar]:
    """A quiet path that rises into ``end_ms`` (a pump), ending at ``end_ms``."""
    closes = [100.0 + 0.01 * i for i in range(minutes - 10)] + [101.0 + 0.4 * i for i in range(10)]
    return path_bars(symbol, end_ms - minutes * 60_000, closes, oi=[5e4 + 10 * i for i in range(minutes)],
                     funding=[0.0001] * minutes, spread_pct=0.05)


# ---------------------------------------------------------------------------------------- known paths
# A stream whose outcome is known by construction. Minute 130 holds the alert. Before it the price
# grows by 0.01 % a minute, so every 1-hour return is exactly 1.0001**60 - 1 (the coin's usual
# move). After it: +2 % at +5 min, a +5 % peak at +20 min, -1.5 % at +40 min, -1 % at +1 h, -3 % at
# +4 h (linear in between). OI rises 3 % over the 30 minutes into the alert and gives back two
# thirds of it by +1 h; funding rises 0.0004 over the hour into it and gives back a quarter.

PATH_MINUTES = 380
ALERT_MINUTE = 130
USUAL_MOVE_PCT = (1.0001 ** 60 - 1) * 100


def _interp(points: Sequence[tuple[int, float]], minute: int) -> float:
    for (m0, v0), (m1, v1) in zip(points, points[1:]):
        if m0 <= minute <= m1:
            return v0 + (v1 - v0) * (minute - m0) / (m1 - m0)
    return points[-1][1]


def known_path(minutes: int = PATH_MINUTES) -> tuple[list[float], list[float], list[float]]:
    """(closes, open interest, funding) per minute for the pump that reverses (see above)."""
    p0 = 100 * 1.0001 ** ALERT_MINUTE
    after = [(ALERT_MINUTE, 0.0), (ALERT_MINUTE + 5, 2.0), (ALERT_MINUTE + 20, 5.0), (ALERT_MINUTE + 40, -1.5),
             (ALERT_MINUTE + 60, -1.0), (ALERT_MINUTE + 240, -3.0), (minutes, -3.0)]
    closes = [100 * 1.0001 ** m if m <= ALERT_MINUTE else p0 * (1 + _interp(after, m) / 100) for m in range(minutes)]
    oi = [_interp([(0, 1000.0), (100, 1000.0), (130, 1030.0), (190, 1010.0), (minutes, 1010.0)], m) for m in range(minutes)]
    funding = [_interp([(0, 0.0001), (70, 0.0001), (130, 0.0005), (190, 0.0004), (minutes, 0.0004)], m)
               for m in range(minutes)]
    return closes, oi, funding


def trend_path(minutes: int = PATH_MINUTES) -> list[float]:
    """Steady growth of 0.01 % a minute all along (an alert against it is simply wrong)."""
    return [100 * 1.0001 ** m for m in range(minutes)]


def path_messages(symbol: str, start_ms: int, closes: Sequence[float], oi: Sequence[float],
                  funding: Sequence[float]) -> list[dict[str, Any]]:
    """Bybit v5 messages for the path: each minute one trade (at :30) and a ticker delta (at :31)."""
    msgs: list[dict[str, Any]] = []
    for m, (c, o, f) in enumerate(zip(closes, oi, funding)):
        t = start_ms + m * 60_000
        if m == 0:
            msgs.append({"topic": f"tickers.{symbol}", "type": "snapshot", "cs": 1, "ts": t + 1_000, "data": {
                "symbol": symbol, "lastPrice": f"{c:.6f}", "markPrice": f"{c:.6f}", "indexPrice": f"{c:.6f}",
                "openInterest": f"{o:.4f}", "openInterestValue": f"{o * c:.4f}", "fundingRate": f"{f:.6f}",
                "turnover24h": "1000000", "volume24h": "10000", "nextFundingTime": str(t + 3_600_000),
                "prevPrice24h": f"{c:.6f}", "prevPrice1h": f"{c:.6f}", "highPrice24h": f"{c:.6f}",
                "lowPrice24h": f"{c:.6f}", "price24hPcnt": "0", "bid1Price": f"{c:.6f}", "bid1Size": "1",
                "ask1Price": f"{c:.6f}", "ask1Size": "1"}})
        msgs.append({"topic": f"publicTrade.{symbol}", "type": "snapshot", "ts": t + 30_000, "data": [
            {"T": t + 30_000, "s": symbol, "S": "Buy", "v": "1", "p": f"{c:.6f}", "L": "PlusTick",
             "i": f"{symbol}-{m}", "BT": False}]})
        msgs.append({"topic": f"tickers.{symbol}", "type": "delta", "cs": m + 2, "ts": t + 31_000, "data": {
            "symbol": symbol, "lastPrice": f"{c:.6f}", "openInterest": f"{o:.4f}", "fundingRate": f"{f:.6f}"}})
    return msgs
