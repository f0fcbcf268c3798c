"""Telegram sink (Bot API): one message per event, edited in place, with its chart as a reply photo.

Methods (https://core.telegram.org/bots/api), ``POST {api_url}/bot<token>/<method>``:

- ``sendMessage`` (``chat_id``, ``text``, ``parse_mode=HTML``) for a new event, a repost on
  escalation to high, a feed gap, the heartbeat or a paper trade;
- ``editMessageText`` (``chat_id``, ``message_id``, ``text``) for an event's later lines;
  "message is not modified" counts as done, "message to edit not found" posts it again;
- ``sendPhoto`` (``multipart/form-data``: ``photo`` file, ``caption``, ``reply_parameters``)
  for the chart, as a reply to the event's message (a photo's text cannot become the event's
  4,096-character message, and an edit must not wait for the chart).

Answers are ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code", "description",
"parameters"}``. A 429 waits ``parameters.retry_after`` seconds; 5xx and network errors are
retried with backoff; other errors (401 bad token, 400 chat not found, 403 bot blocked) are final.
Requests to the chat are paced at one per second, as Telegram asks of bots
(https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this). The bot token
is part of every URL: it never appears in logs, errors or health.
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

import httpx

from virtuoso.alerting import telegram_format as tfmt
from virtuoso.alerting.outbox import MessageRef, Outbox, OutboxItem
from virtuoso.config import TelegramSettings
from virtuoso.domain.alerts import Alert
from virtuoso.domain.notices import FeedGap
from virtuoso.sinks.charts import ChartService
from virtuoso.sinks.discord import trade_from
from virtuoso.sinks.event_sink import EventMessageSink, Sent
from virtuoso.sinks.http_retry import HttpSender, SendResult, TransientError, non_negative_float
from virtuoso.sinks.redact import protect

SINK = "telegram"
CHAT_INTERVAL_S = 1.0


def _classify(resp: httpx.Response, sender: HttpSender, pace: bool = True) -> SendResult:
    try:
        body = resp.json()
    except ValueError:
        body = None
    status = resp.status_code
    if not isinstance(body, dict):
        if status >= 500:
            raise TransientError(f"{status} {resp.reason_phrase}")
        return SendResult(False, status, f"{status} {resp.reason_phrase}", permanent=True)
    if body.get("ok") is True:
        if pace:  # a message went to the chat: the next one waits its turn
            sender.pace("chat", CHAT_INTERVAL_S)
        return SendResult(True, status, body=body.get("result"))
    desc = str(body.get("description") or resp.reason_phrase)[:200]
    code = body.get("error_code") or status
    if status == 429 or code == 429:
        params = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
        wait = non_negative_float(params.get("retry_after"))
        raise sender.rate_limit_hit(1.0 if wait is None else wait, "chat")
    if status >= 500:
        raise TransientError(f"{status} {desc}")
    return SendResult(False, status, f"{code} {desc}", permanent=True, body={"description": desc})


class TelegramSink(EventMessageSink):
    """Delivers the outbox to one Telegram chat."""

    name = SINK

    def __init__(self, settings: TelegramSettings, outbox: Outbox,
                 context: Callable[[str], tuple[Any, float | None, bool]], *,
                 is_muted: Callable[[Alert], bool] | None = None, charts: ChartService | None = None,
                 outlook: Callable[[Alert], str | None] | None = None,
                 transport: httpx.AsyncBaseTransport | None = None,
                 sleep: Callable[[float], Awaitable[None]] | None = None) -> None:
        super().__init__(outbox, context, repost_on_high=settings.repost_on_high, edit_window_s=CHAT_INTERVAL_S,
                         charts=charts if settings.chart else None, chart_budget_s=0.0, is_muted=is_muted,
                         outlook=outlook)
        assert settings.bot_token is not None and settings.chat_id
        token = settings.bot_token.get_secret_value()
        self._base = f"{settings.api_url}/bot{token}"
        self.redacted = f"{settings.api_url}/bot********"
        protect(token, "********")
        self.chat_id = settings.chat_id
        kw: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        self._sender = HttpSender(_classify, scrub=lambda t: t.replace(token, "********"), timeout_s=settings.timeout_s,
                                  max_attempts=settings.max_attempts, transport=transport, **kw)

    async def aclose(self) -> None:
        await self._sender.aclose()

    def channel_health(self) -> dict[str, Any]:
        return {"api": self.redacted, "chat_id": self.chat_id, "requests": self._sender.requests,
                "rate_limited": self._sender.rate_limited, "rate_waited_s": round(self._sender.rate_waited_s, 3)}

    async def warm(self) -> None:
        """``getMe`` once, without retries: opens the connection and checks the token before any alert."""
        saved, self._sender.max_attempts = self._sender.max_attempts, 1
        try:
            r = await self._sender.send("POST", f"{self._base}/getMe", pace_key="getme",
                                        classify=lambda resp, sender: _classify(resp, sender, pace=False))
        finally:
            self._sender.max_attempts = saved
        if not r.ok and r.permanent:
            self._note_error(r.error or "token check failed")
            self.state = "error"

    async def _call(self, method: str, **kwargs: Any) -> SendResult:
        return await self._sender.send("POST", f"{self._base}/{method}", pace_key="chat", **kwargs)

    def _text(self, alert: Alert) -> str:
        snap, composite, sim = self.context(alert.symbol)
        note = None
        if self.outlook is not None:
            try:
                note = self.outlook(alert)
            except Exception:
                note = None
        return tfmt.event_text(alert, snap, composite, simulated=sim, outlook_note=note)

    async def _send_text(self, text: str) -> Sent:
        r = await self._call("sendMessage", json={"chat_id": self.chat_id, "text": text, "parse_mode": "HTML",
                                                  "link_preview_options": {"is_disabled": True}})
        if not r.ok:
            return Sent(False, r.error, r.permanent)
        mid = r.body.get("message_id") if isinstance(r.body, dict) else None
        return Sent(True, message_id=str(mid) if mid is not None else None)

    async def _send_photo(self, alert: Alert, reply_to: str, png: bytes) -> Sent:
        data = {"chat_id": self.chat_id, "caption": tfmt.photo_caption(alert, self.context(alert.symbol)[2]),
                "parse_mode": "HTML",
                "reply_parameters": json.dumps({"message_id": int(reply_to), "allow_sending_without_reply": True})}
        r = await self._call("sendPhoto", data=data, files={"photo": ("chart.png", png, "image/png")})
        if not r.ok:
            return Sent(False, r.error, r.permanent)
        mid = r.body.get("message_id") if isinstance(r.body, dict) else None
        return Sent(True, message_id=str(mid) if mid is not None else None, attachment_id=str(mid))

    async def post_event(self, alert: Alert, png: bytes | None) -> Sent:
        sent = await self._send_text(self._text(alert))
        if not sent.ok or png is None or not sent.message_id:
            return sent
        photo = await self._send_photo(alert, sent.message_id, png)
        return Sent(True, message_id=sent.message_id, attachment_id=photo.attachment_id, image_attached=photo.ok)

    async def edit_event(self, ref: MessageRef, alert: Alert) -> Sent:
        r = await self._call("editMessageText", json={"chat_id": self.chat_id, "message_id": int(ref.message_id),
                                                      "text": self._text(alert), "parse_mode": "HTML",
                                                      "link_preview_options": {"is_disabled": True}})
        if r.ok:
            return Sent(True, message_id=ref.message_id)
        desc = str((r.body or {}).get("description") or r.error or "").lower()
        if "message is not modified" in desc:
            return Sent(True, message_id=ref.message_id)
        if "message to edit not found" in desc:
            return Sent(False, r.error, gone=True)
        return Sent(False, r.error, r.permanent)

    async def attach_image(self, ref: MessageRef, alert: Alert, png: bytes) -> Sent:
        return await self._send_photo(alert, ref.message_id, png)

    async def post_item(self, item: OutboxItem) -> Sent:
        if item.kind == "trade":
            ev = trade_from(item.payload)
            text = tfmt.trade_text(ev, self.context(ev.symbol)[2])
        elif item.payload.get("type") == "feed_gap":
            text = tfmt.gap_text(FeedGap.from_dict(item.payload), bool(item.payload.get("simulated")))
        else:
            p = item.payload
            text = tfmt.heartbeat_text(str(p.get("day")), dict(p.get("counts") or {}), int(p.get("gaps") or 0))
        return await self._send_text(text)
