"""Notices the monitor sends about itself: feed gaps worth telling, and the daily heartbeat.

:func:`gap_worth_telling` keeps gaps longer than ``feed_gap_min_s`` (shorter ones are still in
the source's health). :func:`heartbeat` builds the day's heartbeat from the outbox: events opened
in the last 24 hours by severity, alert lines, outcomes measured, paper trades and feed gaps; its
key is the UTC date, so a restart on the same day never sends a second one.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from virtuoso.alerting.outbox import Outbox
from virtuoso.config import NoticeSettings
from virtuoso.domain.notices import FeedGap

DAY_MS = 86_400_000


def gap_worth_telling(gap: FeedGap, settings: NoticeSettings) -> bool:
    return gap.duration_s >= settings.feed_gap_min_s


def heartbeat_due(now_ms: int, settings: NoticeSettings) -> str | None:
    """The UTC date whose heartbeat is due now (None: off, or not the hour)."""
    if settings.heartbeat_utc_hour is None:
        return None
    now = datetime.fromtimestamp(now_ms / 1000, tz=timezone.utc)
    return now.strftime("%Y-%m-%d") if now.hour == settings.heartbeat_utc_hour else None


def heartbeat(outbox: Outbox, day: str, now_ms: int, simulated: bool) -> dict[str, Any]:
    """The heartbeat notice's payload for ``day`` (counts over the 24 hours before ``now_ms``)."""
    since = now_ms - DAY_MS
    events: dict[str, str] = {}
    for it in outbox.items_since("alert", since):
        if not it.history:
            events[it.event_id or str(it.payload.get("id"))] = str(it.payload.get("severity"))
    counts: dict[str, int] = {f"events {sev}": 0 for sev in ("critical", "high", "watch", "info")}
    for sev in events.values():
        counts[f"events {sev}"] = counts.get(f"events {sev}", 0) + 1
    by_kind = outbox.counts_since(since)
    counts["alert lines"] = by_kind.get("alert", 0)
    counts["outcomes measured"] = by_kind.get("outcome", 0)
    counts["paper trades"] = by_kind.get("trade", 0)
    gaps = sum(1 for it in outbox.items_since("notice", since) if it.payload.get("type") == "feed_gap")
    return {"id": f"heartbeat:{day}", "type": "heartbeat", "day": day, "counts": counts, "gaps": gaps,
            "ts_ms": now_ms, "simulated": simulated}
