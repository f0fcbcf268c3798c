"""Discord sink: one message per event (posted with ``?wait=true``, edited in place), chart attached.

The outbox logic (grouping, edit or post, folding, charts, failures) is
:class:`~virtuoso.sinks.event_sink.EventMessageSink`; this module turns it into Discord requests
through :class:`~virtuoso.sinks.discord_client.DiscordClient`:

- a new event: Execute Webhook with the three embeds; with the chart when it is ready within the
  budget (``multipart/form-data``: ``payload_json`` and ``files[0]`` = ``chart.png``, referenced by
  the last embed as ``attachment://chart.png``);
- a later line: Edit Webhook Message of the event's message with its latest state; a message
  with a chart lists it in ``attachments`` (``{"id": <its id>}``) so the edit keeps it;
- the chart of a message posted without it: an edit that uploads it (``attachments`` =
  ``[{"id": 0}]`` for the new file);
- trades and feed-gap notices and the daily heartbeat: one message each.

``DiscordClient`` and ``redact_webhook`` are re-exported for the callers that know them from here.
"""

from __future__ import annotations

from typing import Any, Callable

from virtuoso.alerting import discord_format as fmt
from virtuoso.alerting.outbox import MessageRef, Outbox, OutboxItem
from virtuoso.config import DiscordSettings
from virtuoso.domain.alerts import Alert
from virtuoso.domain.notices import FeedGap
from virtuoso.domain.trades import PaperTradeEvent, PositionSide, TradeAction
from virtuoso.sinks.charts import ChartService
from virtuoso.sinks.discord_client import UNKNOWN_MESSAGE, DiscordClient, redact_webhook  # noqa: F401
from virtuoso.sinks.event_sink import EventMessageSink, Sent
from virtuoso.sinks.http_retry import SendResult

SINK = "discord"
PNG = "image/png"


def _attachment_id(body: Any) -> str | None:
    if isinstance(body, dict):
        atts = body.get("attachments")
        if isinstance(atts, list) and atts and isinstance(atts[0], dict) and atts[0].get("id") is not None:
            return str(atts[0]["id"])
    return None


def _sent(result: SendResult, keep_attachment: str | None = None) -> Sent:
    body = result.body if isinstance(result.body, dict) else {}
    if not result.ok:
        gone = result.status == 404 and body.get("code") == UNKNOWN_MESSAGE
        return Sent(False, result.error, result.permanent and not gone, gone=gone)
    mid = body.get("id")
    return Sent(True, message_id=str(mid) if mid is not None else None,
                attachment_id=_attachment_id(body) or keep_attachment)


class DiscordSink(EventMessageSink):
    """Delivers the outbox to one Discord webhook."""

    name = SINK

    def __init__(self, settings: DiscordSettings, client: DiscordClient, outbox: Outbox,
                 context: Callable[[str], tuple[Any, float | None, bool]],
                 is_muted: Callable[[Alert], bool] | None = None, *, charts: ChartService | None = None,
                 outlook: Callable[[Alert], str | None] | None = None) -> None:
        super().__init__(outbox, context, repost_on_high=settings.repost_on_high, edit_window_s=settings.digest_window_s,
                         charts=charts if settings.chart else None, chart_budget_s=settings.chart_budget_ms / 1000,
                         is_muted=is_muted, outlook=outlook)
        self.settings = settings
        self.client = client
        self.webhook_name: str | None = None

    def channel_health(self) -> dict[str, Any]:
        return {"webhook": self.client.redacted_url, "webhook_name": self.webhook_name, "requests": self.client.requests,
                "rate_limited": self.client.rate_limited, "rate_waited_s": round(self.client.rate_waited_s, 3),
                "paced": self.client.paced}

    async def warm(self) -> None:
        result = await self.client.warm()
        self.webhook_name = (result.body or {}).get("name") if result.ok else None
        if not result.ok and result.permanent:  # e.g. 404 Unknown Webhook: visible before any alert
            self._note_error(result.error or "webhook check failed")
            self.state = "error"

    def _message(self, alert: Alert, image: str | None) -> dict[str, Any]:
        snap, composite, sim = self.context(alert.symbol)
        note = None
        if self.outlook is not None:
            try:
                note = self.outlook(alert)
            except Exception:  # a failing statistic costs the sentence, not the alert
                note = None
        return fmt.alert_message(alert, snap, composite, username=self.settings.username, simulated=sim,
                                 outlook_note=note, image=image)

    async def post_event(self, alert: Alert, png: bytes | None) -> Sent:
        if png is None:
            return _sent(await self.client.execute(self._message(alert, None)))
        payload = fmt.with_attachment(self._message(alert, fmt.CHART_FILENAME), fmt.CHART_FILENAME, 0)
        return _sent(await self.client.execute(payload, [(fmt.CHART_FILENAME, png, PNG)]))

    async def edit_event(self, ref: MessageRef, alert: Alert) -> Sent:
        if ref.image == "attached" and ref.attachment_id:
            payload = fmt.with_attachment(self._message(alert, fmt.CHART_FILENAME), fmt.CHART_FILENAME, ref.attachment_id)
            return _sent(await self.client.edit(ref.message_id, payload), ref.attachment_id)
        return _sent(await self.client.edit(ref.message_id, self._message(alert, None)))

    async def attach_image(self, ref: MessageRef, alert: Alert, png: bytes) -> Sent:
        payload = fmt.with_attachment(self._message(alert, fmt.CHART_FILENAME), fmt.CHART_FILENAME, 0)
        return _sent(await self.client.edit(ref.message_id, payload, [(fmt.CHART_FILENAME, png, PNG)]))

    async def post_item(self, item: OutboxItem) -> Sent:
        username = self.settings.username
        if item.kind == "trade":
            ev = trade_from(item.payload)
            payload = fmt.trade_message(ev, username=username, simulated=self.context(ev.symbol)[2])
        elif item.payload.get("type") == "feed_gap":
            payload = fmt.gap_message(FeedGap.from_dict(item.payload), username=username,
                                      simulated=bool(item.payload.get("simulated")))
        else:
            p = item.payload
            payload = fmt.heartbeat_message(str(p.get("day")), dict(p.get("counts") or {}), int(p.get("gaps") or 0),
                                            username=username, simulated=bool(p.get("simulated")),
                                            ts_ms=int(p.get("ts_ms") or 0))
        return _sent(await self.client.execute(payload))


def trade_from(d: dict[str, Any]) -> PaperTradeEvent:
    return PaperTradeEvent(
        id=str(d["id"]), symbol=str(d["symbol"]), action=TradeAction(d["action"]), side=PositionSide(d["side"]),
        qty=float(d["qty"]), price=float(d["price"]), notional_usd=float(d["notional_usd"]),
        confluence_score=float(d["confluence_score"]), reason=str(d.get("reason", "")),
        ts_event_ms=int(d["ts_event_ms"]), pnl_usd=float(d.get("pnl_usd", 0.0)), simulated=bool(d.get("simulated")),
    )
