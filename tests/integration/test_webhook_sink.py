"""The generic JSON webhook against a local receiver that checks its documented contract: every line,
outcome, notice and trade once and in order, HMAC-signed, 429 Retry-After honoured, 4xx final,
history not sent, and neither the URL's token nor the secret in any log."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.delivery_factories import DeliveryView, delivery, event_lines, line, wait_for
from tests.webhook_receiver import WebhookReceiver
from virtuoso.domain.notices import FeedGap
from virtuoso.domain.trades import PaperTradeEvent, PositionSide, TradeAction

SECRET = "hmac-secret-value-123"


def start(tmp_path: Path, rx: WebhookReceiver, **kw: object):
    svc, bus = delivery(tmp_path, DeliveryView(), webhook={"url": rx.url, "secret": SECRET}, **kw)
    svc.start()
    return svc, bus


def test_every_line_trade_and_notice_arrives_once_in_order_and_signed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with WebhookReceiver(secret=SECRET) as rx:
        svc, bus = start(tmp_path, rx)
        try:
            lines = event_lines()
            bus.publish_alerts(lines[:2])
            bus.publish_trade(PaperTradeEvent("t1", "ETHUSDT", TradeAction.OPEN, PositionSide.LONG, 0.5, 2000.0, 1000.0,
                                              74.0, "confluence 74", 1, 0.0, False))
            bus.publish_notice(FeedGap(1_000, 181_000, ("BTCUSDT",), "connection lost", "bybit", 3))
            bus.publish_alerts(lines[2:])
            assert wait_for(lambda: len(rx.received) == 6)
            types = [d.body["type"] for d in rx.received]
            assert types == ["alert", "alert", "trade", "feed_gap", "alert", "alert"]
            assert [d.body["seq"] for d in rx.received] == sorted(d.body["seq"] for d in rx.received)
            assert len(set(rx.keys())) == 6 and all("X-Virtuoso-Signature" in d.headers for d in rx.received)
            assert rx.received[0].body["data"]["id"] == lines[0].id
            assert wait_for(lambda: svc.health()["webhook"]["sent"] == 6) and svc.health()["webhook"]["signed"] is True
        finally:
            svc.stop()
    logs = caplog.text + str(svc.health())
    assert "s3cr3t-path-token" not in logs and SECRET not in logs


def test_a_429_waits_retry_after_and_a_5xx_or_drop_is_retried(tmp_path: Path) -> None:
    with WebhookReceiver(secret=SECRET) as rx:
        rx.inject("429", 1, retry_after="1")
        rx.inject("500", 1)
        rx.inject("drop", 1)
        svc, bus = start(tmp_path, rx)
        try:
            bus.publish_alerts([line()])
            assert wait_for(lambda: len(rx.received) == 1, 30)
            statuses = [s for _, s in rx.responses]
            assert statuses == [429, 500, 0, 200]
            assert rx.responses[1][0] - rx.responses[0][0] >= 0.95  # Retry-After: 1
        finally:
            svc.stop()


def test_a_refusal_is_final_and_shown_and_a_wrong_secret_is_refused(tmp_path: Path) -> None:
    with WebhookReceiver(secret="another-secret") as rx:
        svc, bus = start(tmp_path, rx)
        try:
            bus.publish_alerts([line()])
            assert wait_for(lambda: svc.health()["webhook"]["failed"] == 1)
            h = svc.health()["webhook"]
            assert "401" in h["last_error"] and h["state"] == "error" and rx.received == []
            assert len(rx.responses) == 1  # not retried
        finally:
            svc.stop()


def test_lines_on_warm_up_history_are_not_sent(tmp_path: Path) -> None:
    with WebhookReceiver(secret=SECRET) as rx:
        live_from = line().ts_event_ms + 60_000
        svc, bus = start(tmp_path, rx, live_from_ms=lambda: live_from)
        try:
            bus.publish_alerts([line(), line(start_ms=live_from + 1)])
            assert wait_for(lambda: len(rx.received) == 1 and svc.health()["webhook"]["history"] == 1)
            assert rx.received[0].body["data"]["ts_event_ms"] == live_from + 1
        finally:
            svc.stop()
