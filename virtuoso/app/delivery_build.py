"""Builds what the delivery service runs, from settings: only the channels that are configured.

Part of the composition root (:mod:`virtuoso.app.build` hands :func:`build_sinks` to the
:class:`~virtuoso.sinks.delivery.DeliveryService`, which calls it on its loop once the outbox is
open): the service reads as lifecycle and flow and builds no adapter itself, this is the list of
parts. Each channel is registered with the outbox when it is first built: a
channel configured later starts from the outbox's end instead of replaying history to it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from virtuoso.alerting.marks import AlertMarks
from virtuoso.sinks.charts import ChartService

if TYPE_CHECKING:
    from virtuoso.sinks.delivery import DeliveryService

log = logging.getLogger(__name__)


async def build_sinks(svc: "DeliveryService") -> None:
    s = svc.settings
    outbox = svc.outbox
    assert outbox is not None
    marks = AlertMarks(svc.db_path)

    def is_muted(alert: object) -> bool:
        return marks.is_muted(alert, svc.clock.now_ms())  # type: ignore[arg-type]

    wants_charts = (s.discord.webhook_url is not None and s.discord.chart) or \
        (s.telegram.bot_token is not None and s.telegram.chart)
    if wants_charts:
        svc.charts = ChartService(svc.chart_window, s.discord.chart_minutes, mode=svc.chart_mode).start()
    if s.discord.webhook_url is not None:
        from virtuoso.sinks.discord import DiscordClient, DiscordSink

        client = DiscordClient(s.discord.webhook_url.get_secret_value(), timeout_s=s.discord.timeout_s,
                               max_attempts=s.discord.max_attempts)
        svc.discord = DiscordSink(s.discord, client, outbox, svc.context, is_muted=is_muted, charts=svc.charts,
                                  outlook=svc.outlook)
        svc.add_sink(svc.discord)
    if s.telegram.bot_token is not None:
        from virtuoso.sinks.telegram import TelegramSink

        svc.telegram = TelegramSink(s.telegram, outbox, svc.context, is_muted=is_muted, charts=svc.charts,
                                    outlook=svc.outlook)
        svc.add_sink(svc.telegram)
    if s.webhook.url is not None:
        from virtuoso.sinks.webhook import WebhookSink

        secret = s.webhook.secret.get_secret_value() if s.webhook.secret is not None else None
        svc.webhook = WebhookSink(s.webhook.url.get_secret_value(), secret, outbox, timeout_s=s.webhook.timeout_s,
                                  max_attempts=s.webhook.max_attempts)
        svc.add_sink(svc.webhook)
    if s.relay.enabled:
        from virtuoso.sinks.ws_relay import RelayOutboxSink, RelayServer

        svc.relay = RelayServer(s.relay, svc.clock, outbox)
        try:
            await svc.relay.start()
        except OSError as exc:  # port taken: the engine runs on, health shows why
            svc.relay.state = "error"
            svc.relay.last_error = f"cannot listen on {s.relay.host}:{s.relay.port}: {exc.strerror or exc}"
            log.error("relay: %s", svc.relay.last_error)
        else:
            svc.relay_sink = RelayOutboxSink(svc.relay, outbox)
            svc.add_sink(svc.relay_sink)
    if s.outcomes.enabled:
        from virtuoso.sinks.outcome_tracker import OutcomeTracker

        svc.tracker = OutcomeTracker(svc.outcome_store, svc.bars_between, svc.clock, s.outcomes.hit_multiple,
                                     s.outcomes.interval_s, svc.publish_outcomes)
    if s.trading.enabled:
        from virtuoso.trading.executor import PaperExecutor

        svc.executor = PaperExecutor(s.trading, svc.view, outbox.conn, svc.clock, svc.bus.publish_trade)
