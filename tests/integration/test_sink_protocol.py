"""Every channel the delivery service drains is a :class:`virtuoso.sinks.base.Sink`, and the
service builds none itself: the composition root hands it ``build_sinks``."""

from __future__ import annotations

import inspect
from pathlib import Path

from tests.delivery_factories import delivery
from virtuoso.sinks import delivery as delivery_module
from virtuoso.sinks.base import Sink


def test_every_configured_channel_is_a_sink_and_the_service_lists_exactly_those(tmp_path: Path) -> None:
    dead = "http://127.0.0.1:9"  # nothing is in the outbox: nothing is sent
    svc, _ = delivery(tmp_path, chart_mode="inline",
                      discord={"webhook_url": f"{dead}/api/webhooks/1/token", "chart": False},
                      telegram={"bot_token": "1:token", "chat_id": "42", "api_url": dead, "chart": False},
                      webhook={"url": f"{dead}/hook"}, relay={"port": 0})
    svc.start()
    try:
        channels = [svc.discord, svc.telegram, svc.webhook, svc.relay_sink]
        assert all(isinstance(c, Sink) for c in channels)
        assert [c.name for c in svc._sinks] == [c.name for c in channels]  # type: ignore[union-attr]
    finally:
        svc.stop()


def test_the_delivery_service_module_builds_no_channel():
    source = inspect.getsource(delivery_module)
    for adapter in ("DiscordSink(", "TelegramSink(", "WebhookSink(", "RelayServer(", "RelayOutboxSink(",
                    "DiscordClient(", "delivery_build"):
        assert adapter not in source.replace(":func:`virtuoso.app.delivery_build", ""), adapter
