"""Telegram (Bot API) against a local server that speaks it: one message per event, edited in place,
the chart as a reply photo, flood control's retry_after honoured, limits kept, the token never shown."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from tests.delivery_factories import DeliveryView, delivery, event_lines, line, sol_bars, wait_for
from tests.telegram_receiver import TEXT_MAX, TelegramReceiver, u16, visible


def start(tmp_path: Path, rx: TelegramReceiver, token: str | None = None, **telegram: object):
    svc, bus = delivery(tmp_path, DeliveryView(True, {"SOLUSDT": sol_bars()}),
                        telegram={"bot_token": token or rx.token, "chat_id": rx.chat_id, "api_url": rx.api_url,
                                  **telegram})
    svc.start()
    return svc, bus


def test_an_event_is_one_message_edited_in_place_with_its_chart_as_a_reply_photo(tmp_path: Path,
                                                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with TelegramReceiver() as rx:
        svc, bus = start(tmp_path, rx, repost_on_high=False)
        try:
            lines = event_lines()
            bus.publish_alerts(lines[:1])
            assert wait_for(lambda: len(rx.of("sendMessage")) == 1 and len(rx.of("sendPhoto")) == 1, 60)
            for ln in lines[1:]:
                bus.publish_alerts([ln])
                time.sleep(0.05)
            assert wait_for(lambda: svc.health()["telegram"]["sent"] + svc.health()["telegram"]["folded"] == 4, 30)
            (sent,) = rx.of("sendMessage")
            mid = next(m for m in rx.messages.values() if m.text is not None).message_id
            assert {c.params["message_id"] for c in rx.of("editMessageText")} == {mid}
            assert "CRITICAL" in rx.messages[mid].text and "ended" in rx.messages[mid].text
            assert lines[0].id in rx.messages[mid].text and "SIMULATED" in rx.messages[mid].text
            photo = next(m for m in rx.messages.values() if m.photo is not None)
            assert photo.reply_to == mid and photo.photo.startswith(b"\x89PNG")
        finally:
            svc.stop()
    assert rx.token not in caplog.text and rx.token not in str(svc.health())


def test_flood_control_retry_after_is_honoured(tmp_path: Path) -> None:
    with TelegramReceiver(chat_limit=1, chat_window_s=2.0) as rx:
        svc, bus = start(tmp_path, rx, chart=False)
        try:
            bus.publish_alerts([line(start_ms=1_700_000_040_000), line(start_ms=1_700_000_640_000)])
            assert wait_for(lambda: len(rx.of("sendMessage")) == 2, 30)
            first, second = rx.of("sendMessage")
            assert second.t - first.t >= 1.9  # 429 "retry after 2" was waited out
            assert any(s == 429 for _, s in rx.responses) and svc.health()["telegram"]["rate_limited"] >= 1
            assert svc.health()["telegram"]["failed"] == 0
        finally:
            svc.stop()


def test_a_long_event_fits_telegrams_limit_and_markup_in_alert_text_is_escaped(tmp_path: Path) -> None:
    with TelegramReceiver() as rx:
        svc, bus = start(tmp_path, rx, chart=False)
        try:
            bus.publish_alerts([line(lines=["<script>alert(1)</script> & <b>bold</b> " + "x" * 3000] * 5)])
            assert wait_for(lambda: len(rx.of("sendMessage")) == 1, 30)
            text = rx.of("sendMessage")[0].params["text"]
            shown, error = visible(text, "HTML")
            assert error is None and u16(shown) <= TEXT_MAX and "<script>" in shown
        finally:
            svc.stop()


def test_a_wrong_token_is_final_and_never_shown(tmp_path: Path) -> None:
    with TelegramReceiver() as rx:
        svc, bus = start(tmp_path, rx, token="999:wrong-token-value", chart=False)
        try:
            bus.publish_alerts([line()])
            assert wait_for(lambda: svc.health()["telegram"]["failed"] == 1, 30)
            h = svc.health()["telegram"]
            assert "401" in h["last_error"] and "wrong-token-value" not in str(svc.health())
        finally:
            svc.stop()
