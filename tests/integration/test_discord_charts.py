"""Charts in Discord messages: uploaded as files[0] and referenced by the embed, within the budget or
attached by an edit afterwards, kept by later edits; drawn in a worker process by default."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from tests.delivery_factories import DeliveryView, delivery, event_lines, sol_bars, wait_for
from tests.discord_receiver import DiscordReceiver
from virtuoso.alerting.event_chart import PNG_MAGIC, ChartRequest, render_png


def service(tmp_path: Path, url: str, chart_mode: str = "inline", **discord: Any) -> tuple[Any, Any]:
    return delivery(tmp_path, DeliveryView(True, {"SOLUSDT": sol_bars()}), chart_mode=chart_mode,
                    discord={"webhook_url": url, "digest_window_s": 0, "repost_on_high": False, **discord})


def image_url(msg: Any) -> str | None:
    return (msg.embeds[-1].get("image") or {}).get("url")


def test_a_chart_ready_within_the_budget_goes_with_the_first_post(tmp_path: Path) -> None:
    with DiscordReceiver() as r:
        svc, bus = service(tmp_path, r.url, chart_budget_ms=10_000)
        svc.start()
        try:
            bus.publish_alerts([event_lines()[0]])
            assert wait_for(lambda: len(r.of("POST")) == 1, 30)
            post = r.of("POST")[0]
            assert [n for n, _ in post.files] == ["chart.png"] and post.files[0][1].startswith(PNG_MAGIC)
            assert post.payload["embeds"][-1]["image"] == {"url": "attachment://chart.png"}
            msg = r.messages[post.message_id]
            assert len(msg.attachments) == 1 and image_url(msg) == msg.attachments[0]["url"]
            assert r.rejected == []
        finally:
            svc.stop()


class SlowRenderer:
    """Draws the real chart, but only once released (a slow chart)."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def __call__(self, req: ChartRequest) -> bytes:
        self.release.wait(30)
        return render_png(req)


def test_a_slow_chart_never_holds_the_alert_and_is_attached_by_an_edit_that_later_edits_keep(tmp_path: Path) -> None:
    with DiscordReceiver() as r:
        svc, bus = service(tmp_path, r.url, chart_budget_ms=200)
        slow = SlowRenderer()
        svc.start()
        try:
            assert svc.charts is not None
            svc.charts._renderer = slow  # the seam: a renderer that takes as long as we say
            first, second, *_ = event_lines()
            t0 = time.monotonic()
            bus.publish_alerts([first])
            assert wait_for(lambda: len(r.of("POST")) == 1, 30)
            assert time.monotonic() - t0 < 5  # the budget (0.2 s), not the chart, decided
            post = r.of("POST")[0]
            assert post.files == [] and "image" not in post.payload["embeds"][-1]
            slow.release.set()
            assert wait_for(lambda: len(r.of("PATCH")) == 1, 30)
            attach = r.of("PATCH")[0]
            assert attach.message_id == post.message_id and [n for n, _ in attach.files] == ["chart.png"]
            msg = r.messages[post.message_id]
            assert len(msg.attachments) == 1 and image_url(msg) == msg.attachments[0]["url"]
            kept = msg.attachments[0]["id"]
            bus.publish_alerts([second])
            assert wait_for(lambda: len(r.of("PATCH")) == 2, 30)
            edit = r.of("PATCH")[1]
            assert edit.files == [] and edit.payload["attachments"] == [{"id": kept, "filename": "chart.png"}]
            assert [a["id"] for a in r.messages[post.message_id].attachments] == [kept]
            assert image_url(r.messages[post.message_id]) == msg.attachments[0]["url"]
            assert svc.health()["discord"]["images"] == 1 and r.rejected == []
        finally:
            slow.release.set()
            svc.stop()


def test_charts_are_drawn_in_a_worker_process_by_default(tmp_path: Path) -> None:
    with DiscordReceiver() as r:
        svc, bus = service(tmp_path, r.url, chart_mode="process")
        svc.start()
        try:
            bus.publish_alerts([event_lines()[0]])
            assert wait_for(lambda: len(r.of("PATCH")) == 1, 90)  # budget 0: text first, the chart by edit
            assert r.of("POST")[0].files == [] and r.of("PATCH")[0].files[0][1].startswith(PNG_MAGIC)
            h = svc.health()["charts"]
            assert h["mode"] == "process" and h["rendered"] == 1 and h["failed"] == 0
        finally:
            svc.stop()
