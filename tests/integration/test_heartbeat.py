"""The optional daily heartbeat: due only at its UTC hour, once per day, with the last 24 hours' counts."""

from __future__ import annotations

from pathlib import Path

from tests.delivery_factories import event_lines, line
from virtuoso.alerting import discord_format as fmt
from virtuoso.alerting.outbox import Outbox, alert_item, notice_item
from virtuoso.config import NoticeSettings
from virtuoso.domain.clock import ManualClock
from virtuoso.domain.notices import FeedGap
from virtuoso.sinks import notices

NOON = 1_700_049_600_000  # 2023-11-15 12:00:00 UTC


def test_the_heartbeat_is_due_at_its_hour_only_and_is_off_by_default() -> None:
    assert notices.heartbeat_due(NOON, NoticeSettings()) is None
    assert notices.heartbeat_due(NOON, NoticeSettings(heartbeat_utc_hour=12)) == "2023-11-15"
    assert notices.heartbeat_due(NOON + 3_600_000, NoticeSettings(heartbeat_utc_hour=12)) is None


def test_the_heartbeat_counts_the_days_events_and_gaps_and_is_sent_once_a_day(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "v.db", ManualClock(NOON))
    ob.add([alert_item(a, NOON - 3_600_000) for a in event_lines()])  # one event, ends critical
    ob.add([alert_item(line(start_ms=1, symbol="BTCUSDT"), NOON - 3_600_000)])  # one watch event
    ob.add([alert_item(line(start_ms=2, symbol="XRPUSDT"), NOON - 3_600_000, history=True)])  # history: not counted
    ob.add([notice_item(FeedGap(0, 120_000, ("BTCUSDT",), "lost"), NOON - 60_000)])
    beat = notices.heartbeat(ob, "2023-11-15", NOON, simulated=False)
    assert beat["counts"]["events critical"] == 1 and beat["counts"]["events watch"] == 1
    assert beat["counts"]["alert lines"] == 5 and beat["gaps"] == 1
    assert len(ob.add([notice_item(beat, NOON)])) == 1
    assert ob.add([notice_item(notices.heartbeat(ob, "2023-11-15", NOON + 60_000, False), NOON + 60_000)]) == []
    text = str(fmt.heartbeat_message(beat["day"], beat["counts"], beat["gaps"], ts_ms=NOON))
    assert "Daily heartbeat" in text and "events critical" in text
