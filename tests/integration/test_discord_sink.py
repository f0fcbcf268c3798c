"""Discord client and sink against a real Discord-compatible receiver on loopback: one message per
event (posted with wait=true, edited in place), charts attached, Discord's limits and 429s."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.delivery_factories import DeliveryView, delivery, event_lines, line, sol_bars, wait_for
from tests.discord_receiver import DiscordReceiver
from tests.state_factories import alert
from virtuoso.alerting import discord_format as fmt
from virtuoso.alerting.bus import AlertBus
from virtuoso.alerting.outbox import Outbox
from virtuoso.domain.alerts import Alert, AlertKind, Change, Severity
from virtuoso.domain.clock import SystemClock
from virtuoso.sinks.delivery import DeliveryService
from virtuoso.sinks.discord import DiscordClient, redact_webhook

View = DeliveryView  # other delivery tests import the twin from here


def post(url: str, payload: dict[str, Any], **kw: Any) -> Any:
    async def go() -> Any:
        client = DiscordClient(url, backoff_initial_s=0.05, backoff_max_s=0.2, **kw)
        try:
            return await client.post(payload), client
        finally:
            await client.aclose()
    return asyncio.run(go())


def test_a_429_waits_retry_after_before_retrying() -> None:
    with DiscordReceiver() as r:
        r.inject("429", 1, retry_after_s=0.4)
        result, client = post(r.url, fmt.test_message(0))
        assert result.ok and result.attempts == 2
        (t429, s1), (t_ok, s2) = r.responses
        assert (s1, s2) == (429, 200)  # wait=true: the message comes back
        assert t_ok - t429 >= 0.39
        assert client.rate_limited == 1


def test_retry_after_header_is_used_when_the_body_has_none() -> None:
    calls: list[float] = []
    slept: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(time.monotonic())
        if len(calls) == 1:
            return httpx.Response(429, headers={"Retry-After": "2"}, json={"message": "slow down"})
        return httpx.Response(204)

    async def fake_sleep(s: float) -> None:
        slept.append(s)

    result, _ = post("https://discord.example/api/webhooks/1/t", fmt.test_message(0),
                     transport=httpx.MockTransport(handler), sleep=fake_sleep)
    assert result.ok and 2.0 in slept


@pytest.mark.parametrize("webhook_ok", [True, False])
def test_a_400_or_404_is_not_retried_and_keeps_discords_message(webhook_ok: bool) -> None:
    with DiscordReceiver() as r:
        url = r.url if webhook_ok else r.url_for("999/deleted")
        bad = {"content": "x", "embeds": [{"title": "t" * 300}]} if webhook_ok else fmt.test_message(0)
        result, client = post(url, bad)
        assert not result.ok and result.permanent and result.attempts == 1
        assert client.requests == 1
        if webhook_ok:
            assert result.status == 400 and "Invalid Form Body (code 50035)" in (result.error or "")
        else:
            assert result.status == 404 and "Unknown Webhook (code 10015)" in (result.error or "")


def test_5xx_and_dropped_connections_are_retried_with_backoff() -> None:
    with DiscordReceiver() as r:
        r.inject("500", 2)
        r.inject("drop", 1)
        result, _ = post(r.url, fmt.test_message(0))
        assert result.ok and result.attempts == 4
        assert [s for _, s in r.responses] == [500, 500, 0, 200]


def test_attempts_are_bounded_and_the_error_never_shows_the_webhook_token() -> None:
    with DiscordReceiver() as r:
        r.inject("500", 10)
        result, client = post(r.url, fmt.test_message(0), max_attempts=3)
        assert not result.ok and not result.permanent and result.attempts == 3
        assert "token-abc" not in (result.error or "") and "token-abc" not in client.redacted_url


def test_rate_limit_headers_pace_requests_instead_of_provoking_429s() -> None:
    with DiscordReceiver(bucket_limit=2, bucket_reset_s=0.5) as r:
        async def go() -> float:
            client = DiscordClient(r.url)
            t0 = time.monotonic()
            for _ in range(5):
                assert (await client.post(fmt.test_message(0))).ok
            await client.aclose()
            return time.monotonic() - t0
        elapsed = asyncio.run(go())
        assert [s for _, s in r.responses] == [200] * 5
        assert elapsed >= 0.9  # two full bucket resets waited out


def test_redacted_webhook_keeps_host_and_a_hint_only() -> None:
    red = redact_webhook("https://discord.com/api/webhooks/123456789012/SECRETTOKEN")
    assert red == "https://discord.com/api/webhooks/1234…/********"
    assert "SECRET" not in redact_webhook("garbage SECRET")


# ---------------------------------------------------------------------------------------- the service


def service(tmp_path: Path, url: str, digest_window_s: float = 0.0, simulated: bool = False,
            **discord: Any) -> tuple[DeliveryService, AlertBus]:
    return delivery(tmp_path, DeliveryView(simulated, {"SOLUSDT": sol_bars()}),
                    discord={"webhook_url": url, "digest_window_s": digest_window_s, "chart": False, **discord})


def footer_id(payload: dict[str, Any]) -> str:
    return payload["embeds"][-1]["footer"]["text"].split("event id ")[1].split(" ")[0]


def test_an_event_is_one_post_and_its_later_lines_edit_that_message(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # httpx logs every request URL: the token must not be in it
    with DiscordReceiver() as r:
        svc, bus = service(tmp_path, r.url, repost_on_high=False)
        svc.start()
        try:
            lines = event_lines()
            for ln in lines:
                bus.publish_alerts([ln])
                time.sleep(0.05)
            assert wait_for(lambda: svc.health()["discord"]["sent"] + svc.health()["discord"]["folded"] == 4)
            posts, edits = r.of("POST"), r.of("PATCH")
            assert len(posts) == 1 and edits and {e.message_id for e in edits} == {posts[0].message_id}
            msg = r.messages[posts[0].message_id]
            assert [e["title"] for e in msg.embeds] == ["Market Overview", "Institutional Activity", "Trading Outlook"]
            assert "CRITICAL" in msg.embeds[0]["description"] and "ended" in msg.embeds[0]["description"]
            assert footer_id(posts[0].payload) == lines[0].id and len(r.messages) == 1
            assert r.rejected == []
        finally:
            svc.stop()
    assert "HTTP Request: PATCH" in caplog.text and "token-abc" not in caplog.text


def test_an_escalation_to_high_is_a_new_post_by_default_so_a_phone_buzzes(tmp_path: Path) -> None:
    with DiscordReceiver() as r:
        svc, bus = service(tmp_path, r.url)
        svc.start()
        try:
            watch, high, dump, ended = event_lines()
            for i, ln in enumerate((watch, high, dump, ended)):
                bus.publish_alerts([ln])
                assert wait_for(lambda: svc.health()["discord"]["sent"] == i + 1)
            posts, edits = r.of("POST"), r.of("PATCH")
            # opened (watch), escalated to high, dump to critical: a post each; ended edits the latest
            assert [p.payload["embeds"][-1]["footer"]["text"].split(" · ")[2] for p in posts] == ["watch", "high", "critical"]
            assert len(edits) == 1 and edits[0].message_id == posts[-1].message_id
            ref = Outbox(tmp_path / "virtuoso.db", SystemClock()).message_ref("discord", watch.id)
            assert ref is not None and ref.message_id == posts[-1].message_id and ref.posts == 3
        finally:
            svc.stop()


def test_lines_arriving_within_the_edit_window_become_one_edit(tmp_path: Path) -> None:
    with DiscordReceiver() as r:
        svc, bus = service(tmp_path, r.url, digest_window_s=1.0, repost_on_high=False)
        svc.start()
        try:
            first, *later = event_lines()
            bus.publish_alerts([first])
            assert wait_for(lambda: len(r.of("POST")) == 1)
            for ln in later:
                bus.publish_alerts([ln])
            assert wait_for(lambda: svc.health()["discord"]["backlog"] == 0 and len(r.of("PATCH")) >= 1)
            time.sleep(1.3)
            assert len(r.of("PATCH")) == 1 and svc.health()["discord"]["folded"] == 2
            assert "ended" in r.messages[r.of("POST")[0].message_id].embeds[0]["description"]
        finally:
            svc.stop()


def test_a_message_deleted_in_discord_is_posted_again_on_the_next_line(tmp_path: Path) -> None:
    with DiscordReceiver() as r:
        svc, bus = service(tmp_path, r.url, repost_on_high=False)
        svc.start()
        try:
            first, second, *_ = event_lines()
            bus.publish_alerts([first])
            assert wait_for(lambda: len(r.of("POST")) == 1)
            r.messages.clear()  # a moderator deleted it
            bus.publish_alerts([second])
            assert wait_for(lambda: len(r.of("POST")) == 2)
            assert svc.health()["discord"]["failed"] == 0
            assert any(code == 404 and body.get("code") == 10008 for code, body in r.rejected)
        finally:
            svc.stop()


def test_lines_raised_on_warm_up_history_are_recorded_not_sent(tmp_path: Path) -> None:
    with DiscordReceiver() as r:
        live_from = line().ts_event_ms + 60_000
        svc, bus = delivery(tmp_path, DeliveryView(), live_from_ms=lambda: live_from,
                            discord={"webhook_url": r.url, "digest_window_s": 0, "chart": False})
        svc.start()
        try:
            old = line()  # before the live start: history
            fresh = line(start_ms=live_from + 1_000)
            bus.publish_alerts([old])
            bus.publish_alerts([fresh])
            assert wait_for(lambda: svc.health()["discord"]["history"] == 1 and len(r.of("POST")) == 1)
            assert footer_id(r.of("POST")[0].payload) == fresh.id
            assert svc.health()["outbox"]["history_lines"] == 1
        finally:
            svc.stop()


def test_an_old_flat_alert_still_goes_out_as_three_embeds_and_health_counts_it(tmp_path: Path) -> None:
    with DiscordReceiver() as r:
        svc, bus = service(tmp_path, r.url)
        svc.start()
        try:
            bus.publish_alerts([alert()])
            assert wait_for(lambda: len(r.received) == 1)
            assert [e["title"] for e in r.payloads()[0]["embeds"]] == list(fmt.EMBED_TITLES)
            assert wait_for(lambda: svc.health()["discord"]["sent"] == 1)
            h = svc.health()["discord"]
            assert h["backlog"] == 0 and h["failed"] == 0 and "token-abc" not in str(svc.health())
        finally:
            svc.stop()


def test_oversized_alert_text_is_truncated_and_accepted(tmp_path: Path) -> None:
    with DiscordReceiver() as r:
        svc, bus = service(tmp_path, r.url)
        svc.start()
        try:
            huge = Alert("big1", "BTCUSDT", AlertKind.PUMP_AND_DUMP, Severity.CRITICAL, 99.0, 1_700_000_000_000,
                         {f"liq_{i}_" + "k" * 300: "v" * 2000 for i in range(30)}, "m" * 10_000)
            wordy = line(lines=["w" * 5000] * 40)
            bus.publish_alerts([huge, wordy])
            assert wait_for(lambda: len(r.received) == 2)
            assert r.rejected == []
        finally:
            svc.stop()


def test_a_deleted_webhook_is_recorded_with_discords_message_and_shown_in_health(tmp_path: Path) -> None:
    with DiscordReceiver() as r:
        svc, bus = service(tmp_path, r.url_for("999/gone-token"))
        svc.start()
        try:
            bus.publish_alerts([alert()])
            assert wait_for(lambda: svc.health()["discord"]["failed"] == 1)
            h = svc.health()["discord"]
            assert "Unknown Webhook" in h["last_error"] and h["state"] == "error"
            assert "gone-token" not in str(svc.health())
            assert [s for _, s in r.responses] == [404, 404]  # the start-up check, then the post: no retry
        finally:
            svc.stop()


def test_a_symbol_muted_on_the_dashboard_is_not_sent_to_discord_but_others_are(tmp_path: Path) -> None:
    from virtuoso.alerting.marks import AlertMarks

    AlertMarks(tmp_path / "virtuoso.db").mute("symbol", "ETHUSDT", until_ms=int(time.time() * 1000) + 3_600_000)
    with DiscordReceiver() as r:
        svc, bus = service(tmp_path, r.url)
        svc.start()
        try:
            bus.publish_alerts([alert(symbol="ETHUSDT")])
            bus.publish_alerts([alert(symbol="BTCUSDT", ts_ms=1_700_000_100_000)])
            assert wait_for(lambda: svc.health()["discord"]["sent"] == 1 and svc.health()["discord"]["muted"] == 1)
            titles = str(r.payloads())
            assert "BTCUSDT" in titles and "ETHUSDT" not in titles
            assert svc.health()["discord"]["backlog"] == 0
        finally:
            svc.stop()
