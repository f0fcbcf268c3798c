"""Pipeline: parse -> state -> once per event-second detection -> bus, and never raising."""

from __future__ import annotations

from typing import Any

from virtuoso.alerting.bus import AlertBus
from virtuoso.app.pipeline import Pipeline
from virtuoso.domain.alerts import Alert
from virtuoso.domain.clock import ManualClock
from virtuoso.domain.events import Event
from tests.state_factories import SYMBOL, T0_MS, alert, state, ticker, trade


class FakeParser:
    """Parser twin: a message is ``{"events": [...]}``; anything else is malformed (counted)."""

    def __init__(self) -> None:
        self.malformed = 0

    def parse(self, msg: dict[str, Any], ts_recv_ns: int) -> list[Event]:
        if msg.get("boom"):
            raise ValueError("parser bug")
        if "events" not in msg:
            self.malformed += 1
            return []
        return list(msg["events"])


class RecordingDetection:
    """Detection twin: records the seconds it saw and the bars closed by then; alerts on request."""

    def __init__(self, alert_at: dict[int, list[Alert]] | None = None, fail_at: int | None = None) -> None:
        self.seconds: list[int] = []
        self.closed_before: list[int] = []
        self.alert_at = alert_at or {}
        self.fail_at = fail_at

    def on_second(self, st: Any, ts_ms: int) -> list[Alert]:
        self.seconds.append(ts_ms)
        bars = st.bars_1s(SYMBOL)
        self.closed_before.append(bars[-1].end_ms if bars else 0)
        if ts_ms == self.fail_at:
            raise RuntimeError("detector bug")
        return self.alert_at.get(ts_ms, [])


def make(detection: RecordingDetection | None = None, **kw: Any) -> tuple[Pipeline, Any, RecordingDetection, list]:
    st = state(retention_1s_s=600)
    det = detection or RecordingDetection()
    bus = AlertBus()
    published: list[Alert] = []
    bus.subscribe_alerts("test", published.extend)
    return Pipeline(FakeParser(), st, det, bus, ManualClock(), **kw), st, det, published


def msg(*events: Event) -> dict[str, Any]:
    return {"events": list(events)}


def test_events_reach_state_and_detection_runs_once_per_event_second_after_bars_close():
    p, st, det, _ = make()
    p.on_message(msg(trade(T0_MS + 100, 100.0)), 0)
    p.on_message(msg(trade(T0_MS + 900, 101.0), ticker(T0_MS + 950)), 0)
    assert det.seconds == []
    p.on_message(msg(trade(T0_MS + 1_100, 102.0)), 0)
    p.on_message(msg(trade(T0_MS + 2_050, 103.0)), 0)
    assert det.seconds == [T0_MS + 1_000, T0_MS + 2_000]
    assert det.closed_before == [T0_MS + 1_000, T0_MS + 2_000]  # the second before was closed first
    assert p.stats()["events"] == 5 and p.stats()["messages"] == 4


def test_each_quiet_second_in_a_short_gap_gets_its_detection_call():
    p, _, det, _ = make()
    p.on_message(msg(trade(T0_MS)), 0)
    p.on_message(msg(trade(T0_MS + 4_500)), 0)
    assert det.seconds == [T0_MS + 1_000, T0_MS + 2_000, T0_MS + 3_000, T0_MS + 4_000]


def test_a_big_time_jump_runs_only_the_capped_number_of_seconds():
    p, st, det, _ = make(max_catchup_s=10)
    p.on_message(msg(trade(T0_MS)), 0)
    p.on_message(msg(trade(T0_MS + 86_400_000)), 0)
    assert len(det.seconds) == 10
    assert det.seconds[-1] == T0_MS + 86_400_000
    assert len(st.bars_1s(SYMBOL)) == 600  # bounded by retention, not by the jump


def test_alerts_from_detection_are_published_on_the_bus_and_counted():
    a = alert(T0_MS + 1_000)
    p, _, _, published = make(RecordingDetection(alert_at={T0_MS + 1_000: [a]}))
    p.on_message(msg(trade(T0_MS)), 0)
    p.on_message(msg(trade(T0_MS + 1_000)), 0)
    assert published == [a]
    assert p.stats()["alerts"] == 1


def test_malformed_messages_parser_exceptions_and_bad_events_are_counted_never_raised():
    p, _, _, _ = make()
    p.on_message({"nonsense": True}, 0)
    p.on_message({"boom": True}, 0)
    p.on_message({"events": [object()]}, 0)  # not an event at all
    p.on_message(msg(trade(T0_MS)), 0)
    s = p.stats()
    assert s["messages"] == 4 and s["events"] == 1
    assert s["malformed"] == 3  # one from the parser, the exception, the bad event


def test_a_failing_detector_is_counted_and_the_pipeline_goes_on():
    p, st, det, _ = make(RecordingDetection(fail_at=T0_MS + 1_000))
    p.on_message(msg(trade(T0_MS)), 0)
    p.on_message(msg(trade(T0_MS + 1_000)), 0)
    p.on_message(msg(trade(T0_MS + 2_000)), 0)
    assert p.stats()["detection_errors"] == 1
    assert det.seconds == [T0_MS + 1_000, T0_MS + 2_000]
    assert len(st.bars_1s(SYMBOL)) == 2


def test_finish_closes_the_open_second():
    p, st, det, _ = make()
    p.on_message(msg(trade(T0_MS + 300, 100.0, 2.0)), 0)
    p.finish()
    assert [b.volume for b in st.bars_1s(SYMBOL)] == [2.0]
    assert det.seconds == [T0_MS + 1_000]


def test_stats_report_lag_last_event_time_and_message_rate_on_the_clock():
    p, _, _, _ = make()
    clock = p.clock
    assert isinstance(clock, ManualClock)
    p.stats()
    ev = trade(T0_MS)
    late = type(ev)(ev.symbol, ev.ts_event_ms, (T0_MS + 250) * 1_000_000, ev.price, ev.size, ev.side, ev.trade_id)
    for _ in range(10):
        p.on_message(msg(late), 0)
    clock.advance_s(2.0)
    s = p.stats()
    assert s["last_event_ms"] == T0_MS and s["lag_ms"] == 250.0
    assert s["msgs_per_s"] == 5.0
