"""One message per event, edited in place: the outbox worker shared by the Discord and Telegram sinks.

Each round reads what this sink has not done, oldest first, and works through it in order:

- alert lines are grouped by event id. An event without a message gets a new one (a *post*); an
  event that has one gets it *edited* to its latest line, unless the line escalates it to high or
  critical above what was posted and ``repost_on_high`` is on (a new post, so a phone buzzes). The
  older lines of a group are recorded ``folded`` in the same transaction that records the message
  (:meth:`Outbox.record_message`), so a restart edits what it posted instead of posting again.
- An edit of an event edited less than ``edit_window_s`` ago waits for the window to end (the
  lines arriving meanwhile become one edit); new events never wait.
- A new event's chart is asked for at once; the post waits for it at most ``chart_budget_s`` and
  otherwise goes without, and the chart is attached by an edit when it is ready (also after a
  restart, while the event's bars are still there).
- Lines raised on warm-up history are recorded ``history``, muted symbols and kinds ``muted``,
  kinds the sink does not deliver ``skipped``; trades and notices are one post each.

Failures: permanent ones (4xx) are recorded ``failed`` and shown in health; transient ones leave
the lines pending for the next round after a growing pause, so a dead channel never blocks the
relay or another sink. A channel implements four coroutines: ``post_event``, ``edit_event``,
``attach_image`` and ``post_item``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace
from typing import Any, Callable

from virtuoso.alerting.outbox import MessageRef, Outbox, OutboxItem
from virtuoso.domain.alerts import Alert, Severity
from virtuoso.sinks.charts import ChartService, result_of, within

log = logging.getLogger(__name__)

ROUND_PAUSE_MIN_S = 2.0
ROUND_PAUSE_MAX_S = 120.0
BATCH = 200
RESTART_IMAGE_MAX_AGE_MS = 2 * 3_600_000  # after a restart, charts of events posted longer ago are given up


@dataclass(frozen=True, slots=True)
class Sent:
    """What the far side said to one request."""

    ok: bool
    error: str | None = None
    permanent: bool = False
    message_id: str | None = None
    attachment_id: str | None = None
    gone: bool = False  # an edit found the message deleted: post it again
    image_attached: bool | None = None  # False: the post went out but its chart did not (try again later)


class EventMessageSink:
    """The shared outbox worker; subclasses talk to one channel (see the module docstring)."""

    name = "event-sink"
    kinds = ("alert", "trade", "notice")

    def __init__(self, outbox: Outbox, context: Callable[[str], tuple[Any, float | None, bool]], *,
                 repost_on_high: bool, edit_window_s: float, charts: ChartService | None = None,
                 chart_budget_s: float = 0.0, is_muted: Callable[[Alert], bool] | None = None,
                 outlook: Callable[[Alert], str | None] | None = None) -> None:
        """``context(symbol) -> (snapshot or None, composite score or None, simulated)``."""
        self.outbox = outbox
        self.context = context
        self.repost_on_high = repost_on_high
        self.edit_window_s = edit_window_s
        self.charts = charts
        self.chart_budget_s = chart_budget_s
        self.is_muted = is_muted
        self.outlook = outlook
        self.wake = asyncio.Event()
        self.stopping = False
        self.state = "idle"
        self.backlog = 0
        self.last_error: str | None = None
        self.last_error_ms: int | None = None
        self.counts = {"sent": 0, "folded": 0, "posts": 0, "reposts": 0, "edits": 0, "images": 0, "failed": 0,
                       "muted": 0, "history": 0, "messages": 0}
        self._last_edit: dict[str, float] = {}
        self._images: dict[str, asyncio.Future[bytes | None]] = {}
        self._attach_task: asyncio.Future[None] | None = None
        self._attaching: str | None = None  # the event whose chart is being uploaded
        self._round_pause_s = ROUND_PAUSE_MIN_S

    # ------------------------------------------------------------------ channel (subclasses)

    async def post_event(self, alert: Alert, png: bytes | None) -> Sent:
        raise NotImplementedError

    async def edit_event(self, ref: MessageRef, alert: Alert) -> Sent:
        raise NotImplementedError

    async def attach_image(self, ref: MessageRef, alert: Alert, png: bytes) -> Sent:
        raise NotImplementedError

    async def post_item(self, item: OutboxItem) -> Sent:
        raise NotImplementedError

    def channel_health(self) -> dict[str, Any]:
        return {}

    async def warm(self) -> None:
        """Before the first round: open the channel's connection (optional)."""

    # ------------------------------------------------------------------ loop

    def health(self) -> dict[str, Any]:
        out = {"state": self.state, "backlog": self.backlog, **self.counts, "last_error": self.last_error,
               "last_error_ms": self.last_error_ms, "images_pending": len(self._images)}
        if self.charts is not None:
            out["charts"] = self.charts.health()
        return {**out, **self.channel_health()}

    async def run(self) -> None:
        """Drain until stopped; during stop, keep going only while there is work (caller bounds it)."""
        try:
            await self.warm()
        except Exception:  # a failed warm-up costs the first alert a few ms, nothing more
            log.exception("%s: warm-up failed", self.name)
        self._resume_images()
        while True:
            items = self.outbox.pending(self.name, BATCH)
            self.backlog = self.outbox.backlog(self.name)
            wait_s = 1.0
            if items:
                progressed, wait_s = await self._round(items)
                if progressed is None:
                    await self._finish_attach()
                    return
                if progressed:
                    continue
            elif self.stopping:
                await self._finish_attach()
                return
            elif self.state not in ("error", "retry-wait"):
                self.state = "idle"
            if self.stopping:
                await self._finish_attach()
                return
            self._attach_ready()
            await self._idle(wait_s)

    async def _idle(self, timeout_s: float) -> None:
        self.wake.clear()
        try:
            await asyncio.wait_for(self.wake.wait(), max(0.01, timeout_s))
        except asyncio.TimeoutError:
            pass

    async def _round(self, items: list[OutboxItem]) -> tuple[bool | None, float]:
        """Work through one batch; (progressed?, seconds until a deferred edit is due). None: stop."""
        groups: dict[str, list[OutboxItem]] = {}
        order: list[OutboxItem | str] = []
        done: dict[str, list[str]] = {"skipped": [], "history": [], "muted": []}
        for it in items:
            if it.kind not in self.kinds:
                done["skipped"].append(it.key)
            elif it.history:
                done["history"].append(it.key)
            elif it.kind == "alert" and self._muted(it):
                done["muted"].append(it.key)
            elif it.kind == "alert":
                eid = it.event_id or str(it.payload.get("id"))
                if eid not in groups:
                    groups[eid] = []
                    order.append(eid)
                groups[eid].append(it)
            else:
                order.append(it)
        for state, keys in done.items():
            self.outbox.mark(self.name, keys, state)
            if state in self.counts:
                self.counts[state] += len(keys)
        progressed = any(done.values())
        next_due = 1.0
        for entry in order:
            if isinstance(entry, str):
                outcome = await self._deliver_event(entry, groups[entry])
            else:
                outcome = await self._deliver_item(entry)
            if outcome is None:
                return None, 0.0
            if outcome == "retry":  # the channel is failing: re-read after the pause, not hammer it
                return True, 0.0
            if isinstance(outcome, float):
                next_due = min(next_due, outcome)
            else:
                progressed = progressed or outcome
        return progressed, next_due

    def _muted(self, it: OutboxItem) -> bool:
        if self.is_muted is None:
            return False
        try:
            return bool(self.is_muted(Alert.from_dict(it.payload)))
        except Exception:  # a failing check mutes nothing
            log.exception("%s: mute check failed for %s; sending it", self.name, it.key)
            return False

    # ------------------------------------------------------------------ events

    def _wants_post(self, ref: MessageRef | None, alert: Alert) -> bool:
        if ref is None:
            return True
        if not self.repost_on_high:
            return False
        posted = Severity(ref.severity).rank
        return alert.severity.rank >= Severity.HIGH.rank and alert.severity.rank > posted

    async def _deliver_event(self, eid: str, lines: list[OutboxItem]) -> bool | float | str | None:
        if eid == self._attaching and not self.stopping:
            return 0.05  # its chart is being uploaded: edit after, not across it
        if eid == self._attaching:
            await self._finish_attach()
        latest = lines[-1]
        keys, older = [latest.key], [it.key for it in lines[:-1]]
        try:
            alert = Alert.from_dict(latest.payload)
        except Exception as exc:  # a stored payload we cannot read: give up on it, visibly
            self._failure(keys + older, f"cannot read the alert: {exc}", permanent=True)
            return True
        ref = self.outbox.message_ref(self.name, eid)
        post = self._wants_post(ref, alert)
        if not post and ref is not None and not self.stopping:
            due = self._last_edit.get(eid, -1e18) + self.edit_window_s - time.monotonic()
            if due > 0:
                return due
        self.state = "sending"
        now_ms = self.outbox.clock.now_ms()
        if not post and ref is not None:
            sent = await self.edit_event(ref, alert)
            if sent.ok:
                new_ref = replace(ref, updated_ms=now_ms, last_key=latest.key, payload=latest.payload)
                self.counts["edits"] += 1
                return self._recorded(eid, new_ref, keys, older)
            if not sent.gone:
                return await self._failed(keys + older, sent)
        # With no budget the chart is asked for after the post: gathering its bars and handing them to
        # the worker then costs the text nothing. A chart already drawn (a repost) goes with it.
        fut = self.charts.cached(alert.id) if self.charts is not None else None
        if fut is None and self.chart_budget_s > 0:
            fut = self._chart(alert)
        png = await within(fut, self.chart_budget_s)
        sent = await self.post_event(alert, png)
        if not sent.ok or not sent.message_id:
            return await self._failed(keys + older, sent if not sent.ok else Sent(False, "no message id in the answer"))
        if png is None and fut is None:
            fut = self._chart(alert)
        attached = png is not None and sent.image_attached is not False
        image = "attached" if attached else ("pending" if fut is not None else "none")
        posts = (ref.posts + 1) if ref is not None else 1
        new_ref = MessageRef(eid, sent.message_id, alert.severity.value, now_ms, now_ms, latest.key, latest.payload,
                             image, sent.attachment_id, posts)
        self.counts["posts" if ref is None else "reposts"] += 1
        self.counts["images"] += int(attached)
        if image == "pending" and fut is not None:
            self._watch_image(eid, fut)
        elif eid in self._images:
            self._images.pop(eid, None)
        return self._recorded(eid, new_ref, keys, older)

    def _recorded(self, eid: str, ref: MessageRef, keys: list[str], older: list[str]) -> bool:
        self.outbox.record_message(self.name, ref, keys, older)
        self._last_edit[eid] = time.monotonic()
        self.counts["sent"] += len(keys)
        self.counts["folded"] += len(older)
        self.counts["messages"] += 1
        self._ok()
        return True

    def _chart(self, alert: Alert) -> asyncio.Future[bytes | None] | None:
        if self.charts is None:
            return None
        return self.charts.request(alert, self.context(alert.symbol)[2])

    def _watch_image(self, eid: str, fut: asyncio.Future[bytes | None]) -> None:
        self._images[eid] = fut
        fut.add_done_callback(lambda _f: self.wake.set())

    def _resume_images(self) -> None:
        """After a restart: draw the charts that were still to be attached (recent events only)."""
        if self.charts is None:
            return
        now = self.outbox.clock.now_ms()
        for ref in self.outbox.refs_with_image(self.name, "pending"):
            fut = None
            if now - ref.posted_ms <= RESTART_IMAGE_MAX_AGE_MS:
                try:
                    fut = self._chart(Alert.from_dict(ref.payload))
                except Exception:
                    fut = None
            if fut is None:
                self.outbox.record_message(self.name, replace(ref, image="failed"), ())
            else:
                self._watch_image(ref.event_id, fut)

    def _attach_ready(self) -> None:
        """Start attaching one chart that is ready, in its own task, so a post never waits behind
        an upload; one at a time, and the event's own lines wait for it (``_attaching``)."""
        if self._attach_task is not None and not self._attach_task.done():
            return
        for eid, fut in list(self._images.items()):
            if not fut.done():
                continue
            self._images.pop(eid, None)
            png = result_of(fut)
            ref = self.outbox.message_ref(self.name, eid)
            if ref is None or ref.image != "pending":
                continue
            if png is None:
                self.outbox.record_message(self.name, replace(ref, image="failed"), ())
                continue
            self._attaching = eid
            self._attach_task = asyncio.ensure_future(self._attach(ref, fut, png))
            self._attach_task.add_done_callback(lambda _t: self.wake.set())
            return

    async def _attach(self, ref: MessageRef, fut: asyncio.Future[bytes | None], png: bytes) -> None:
        eid = ref.event_id
        try:
            sent = await self.attach_image(ref, Alert.from_dict(ref.payload), png)
            if sent.ok:
                self.outbox.record_message(self.name, replace(ref, image="attached", attachment_id=sent.attachment_id,
                                                              updated_ms=self.outbox.clock.now_ms()), ())
                self._last_edit[eid] = time.monotonic()
                self.counts["images"] += 1
                self.counts["messages"] += 1
            elif sent.permanent or sent.gone:
                self.outbox.record_message(self.name, replace(ref, image="failed"), ())
                self._note_error(sent.error or "image refused")
            else:
                self._images[eid] = fut  # try again later
                self._note_error(sent.error or "image failed")
        except Exception:
            log.exception("%s: attaching the chart of %s failed", self.name, eid)
        finally:
            self._attaching = None

    async def _finish_attach(self) -> None:
        """On stop: let an upload in flight finish (briefly), so its record is not lost."""
        task = self._attach_task
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), 2.0)
            except (asyncio.TimeoutError, Exception):
                task.cancel()

    # ------------------------------------------------------------------ trades and notices

    async def _deliver_item(self, item: OutboxItem) -> bool | str | None:
        self.state = "sending"
        try:
            sent = await self.post_item(item)
        except Exception as exc:  # a stored payload we cannot format
            log.exception("%s: cannot format %s", self.name, item.key)
            self._failure([item.key], f"cannot format: {exc}", permanent=True)
            return True
        if not sent.ok:
            return await self._failed([item.key], sent)
        self.outbox.mark(self.name, [item.key], "sent")
        self.counts["sent"] += 1
        self.counts["messages"] += 1
        self._ok()
        return True

    # ------------------------------------------------------------------ outcomes of a request

    def _ok(self) -> None:
        self._round_pause_s = ROUND_PAUSE_MIN_S
        self.state = "ok"

    def _note_error(self, error: str) -> None:
        self.last_error = error
        self.last_error_ms = int(time.time() * 1000)

    async def _failed(self, keys: list[str], sent: Sent) -> bool | str | None:
        """True: go on (a permanent refusal is recorded); "retry": pause, then re-read; None: stop."""
        self._failure(keys, sent.error or "unknown error", sent.permanent)
        if sent.permanent:
            return True
        if self.stopping:
            return None
        self.state = "retry-wait"
        await self._sleep_unless_stopping(self._round_pause_s)
        self._round_pause_s = min(ROUND_PAUSE_MAX_S, self._round_pause_s * 2)
        return "retry"

    async def _sleep_unless_stopping(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < end:
            await asyncio.sleep(min(0.2, end - time.monotonic()))

    def _failure(self, keys: list[str], error: str, permanent: bool) -> None:
        self._note_error(error)
        if permanent:
            self.outbox.mark(self.name, keys, "failed", error)
            self.counts["failed"] += len(keys)
            self.state = "error"
            log.error("%s rejected %d item(s), not retried: %s", self.name, len(keys), error)
        else:
            self.outbox.mark_retry(self.name, keys, error)
            self.state = "retrying"
            log.warning("%s delivery failed, will retry: %s", self.name, error)
