"""Alert bus: fans alerts, paper-trade events and monitor notices (feed gaps) out to subscribers.

Subscribers must return quickly (enqueue, or a short local write); one that raises is logged and
counted, and never stops the others or the pipeline that published.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Callable, Sequence

from virtuoso.domain.alerts import Alert
from virtuoso.domain.notices import FeedGap
from virtuoso.domain.trades import PaperTradeEvent

log = logging.getLogger(__name__)

AlertSubscriber = Callable[[Sequence[Alert]], None]
TradeSubscriber = Callable[[PaperTradeEvent], None]
NoticeSubscriber = Callable[[FeedGap], None]


class AlertBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._alert_subs: list[tuple[str, AlertSubscriber]] = []
        self._trade_subs: list[tuple[str, TradeSubscriber]] = []
        self._notice_subs: list[tuple[str, NoticeSubscriber]] = []
        self.errors: Counter[str] = Counter()
        self.published_alerts = 0
        self.published_trades = 0
        self.published_notices = 0

    def subscribe_alerts(self, name: str, fn: AlertSubscriber) -> None:
        with self._lock:
            self._alert_subs.append((name, fn))

    def subscribe_trades(self, name: str, fn: TradeSubscriber) -> None:
        with self._lock:
            self._trade_subs.append((name, fn))

    def subscribe_notices(self, name: str, fn: NoticeSubscriber) -> None:
        with self._lock:
            self._notice_subs.append((name, fn))

    def unsubscribe(self, name: str) -> None:
        """Drop every subscription made under ``name`` (a failed engine start undoes its own)."""
        with self._lock:
            self._alert_subs = [(n, f) for n, f in self._alert_subs if n != name]
            self._trade_subs = [(n, f) for n, f in self._trade_subs if n != name]
            self._notice_subs = [(n, f) for n, f in self._notice_subs if n != name]

    def publish_alerts(self, alerts: Sequence[Alert]) -> None:
        """Hand alerts to every subscriber in subscription order."""
        if not alerts:
            return
        self.published_alerts += len(alerts)
        for name, fn in list(self._alert_subs):
            try:
                fn(alerts)
            except Exception:  # a broken subscriber must not stop the others
                self.errors[name] += 1
                log.exception("alert subscriber %s failed", name)

    def publish_trade(self, event: PaperTradeEvent) -> None:
        self.published_trades += 1
        for name, fn in list(self._trade_subs):
            try:
                fn(event)
            except Exception:
                self.errors[name] += 1
                log.exception("trade subscriber %s failed", name)

    def publish_notice(self, notice: FeedGap) -> None:
        """A source's word about itself (a feed gap that ended); called from any thread."""
        self.published_notices += 1
        for name, fn in list(self._notice_subs):
            try:
                fn(notice)
            except Exception:
                self.errors[name] += 1
                log.exception("notice subscriber %s failed", name)

    def health(self) -> dict[str, object]:
        return {
            "published_alerts": self.published_alerts,
            "published_trades": self.published_trades,
            "published_notices": self.published_notices,
            "subscriber_errors": dict(self.errors),
            "subscribers": [n for n, _ in self._alert_subs],
        }
