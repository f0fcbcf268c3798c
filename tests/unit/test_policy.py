"""Event policy: one event per symbol, the most specific kind names it, hysteresis, cooldown, dumps."""

from __future__ import annotations

from virtuoso.alerting.policy import END_HOLD_S, EventBook, primary_kind
from virtuoso.config import AlertPolicySettings
from virtuoso.domain.alerts import AlertKind, Change, Severity, event_id

T0 = 1_700_000_040_000
K = AlertKind


def feed(book: EventBook, seconds: list[dict[AlertKind, float]], symbol: str = "BTCUSDT"):
    out = []
    for i, levels in enumerate(seconds):
        ch = book.step(symbol, levels, T0 + i * 1000)
        if ch is not None:
            out.append((i, ch.kind, ch.severity, ch.change, ch.id))
    return out


def quiet(n: int) -> list[dict[AlertKind, float]]:
    return [{K.PRICE_MOVE: 0.1}] * n


def test_readings_of_several_kinds_at_once_are_one_event_named_by_the_most_specific() -> None:
    book = EventBook(AlertPolicySettings())
    got = feed(book, [{K.VOLUME_SPIKE: 1.3, K.PRICE_MOVE: 1.1, K.PUMP_AND_DUMP: 0.85}])
    assert [(k, c) for _, k, _, c, _ in got] == [(K.PUMP_AND_DUMP, Change.NEW)]
    assert got[0][4] == event_id("BTCUSDT", T0)


def test_a_more_specific_reading_later_reclassifies_the_same_event_never_back() -> None:
    book = EventBook(AlertPolicySettings())
    got = feed(book, [{K.VOLUME_SPIKE: 1.2}, {K.VOLUME_SPIKE: 1.2, K.PUMP_AND_DUMP: 1.05},
                      {K.VOLUME_SPIKE: 1.3, K.PUMP_AND_DUMP: 0.2}])
    assert [(i, k, c) for i, k, _, c, _ in got] == [(0, K.VOLUME_SPIKE, Change.NEW), (1, K.PUMP_AND_DUMP, Change.RECLASSIFIED)]
    assert len({g[4] for g in got}) == 1


def test_severity_only_rises_each_rise_is_one_line() -> None:
    book = EventBook(AlertPolicySettings())
    got = feed(book, [{K.PRICE_MOVE: 1.0}, {K.PRICE_MOVE: 1.7}, {K.PRICE_MOVE: 1.2}, {K.PRICE_MOVE: 2.6}])
    assert [(i, s, c) for i, _, s, c, _ in got] == [(0, Severity.WATCH, Change.NEW), (1, Severity.HIGH, Change.ESCALATED),
                                                   (3, Severity.CRITICAL, Change.ESCALATED)]


def test_an_event_ends_after_a_minute_below_the_exit_ratio_and_the_boundary_keeps_it_open() -> None:
    book = EventBook(AlertPolicySettings(exit_ratio=0.7))
    at_exit = [{K.PRICE_MOVE: 0.7}] * (END_HOLD_S + 5)  # exactly at the exit ratio: still active
    assert [c for *_, c, _ in feed(book, [{K.PRICE_MOVE: 1.2}] + at_exit)] == [Change.NEW]
    book = EventBook(AlertPolicySettings(exit_ratio=0.7))
    below = [{K.PRICE_MOVE: 0.69}] * (END_HOLD_S + 1)
    got = feed(book, [{K.PRICE_MOVE: 1.2}] + below)
    assert [(i, c) for i, *_, c, _ in got] == [(0, Change.NEW), (END_HOLD_S, Change.ENDED)]


def test_within_the_cooldown_the_same_kind_reopens_the_same_event_silently() -> None:
    book = EventBook(AlertPolicySettings(cooldown_s=900))
    seconds = [{K.PRICE_MOVE: 1.2}] + quiet(END_HOLD_S + 10) + [{K.PRICE_MOVE: 1.2}] + quiet(END_HOLD_S + 10)
    seconds += [{K.PRICE_MOVE: 1.8}]
    got = feed(book, seconds)
    assert [c for *_, c, _ in got] == [Change.NEW, Change.ENDED, Change.ESCALATED]
    assert len({g[4] for g in got}) == 1


def test_after_the_cooldown_or_with_a_more_specific_kind_a_new_event_opens() -> None:
    book = EventBook(AlertPolicySettings(cooldown_s=60))
    seconds = [{K.PRICE_MOVE: 1.2}] + quiet(END_HOLD_S + 70) + [{K.PRICE_MOVE: 1.2}]
    got = feed(book, seconds)
    assert [c for *_, c, _ in got] == [Change.NEW, Change.ENDED, Change.NEW] and got[0][4] != got[2][4]
    book = EventBook(AlertPolicySettings(cooldown_s=900))
    got = feed(book, [{K.PRICE_MOVE: 1.2}] + quiet(END_HOLD_S + 10) + [{K.LIQUIDATION_CASCADE: 1.1}])
    assert got[-1][1:4] == (K.LIQUIDATION_CASCADE, Severity.WATCH, Change.NEW) and got[-1][4] != got[0][4]


def test_a_held_event_stays_open_and_a_dump_is_told_even_at_the_same_severity() -> None:
    book = EventBook(AlertPolicySettings())
    assert book.step("SOLUSDT", {K.PUMP_AND_DUMP: 2.7}, T0) is not None  # opens critical
    book.hold("SOLUSDT", T0 + 10 * 60_000)
    for i in range(1, 5 * 60):
        assert book.step("SOLUSDT", {K.PUMP_AND_DUMP: 0.1}, T0 + i * 1000) is None
    dump = book.escalate("SOLUSDT", Severity.HIGH, Change.DUMP)
    assert dump is not None and dump.change is Change.DUMP and dump.severity is Severity.CRITICAL
    book.release("SOLUSDT")
    ended = book.step("SOLUSDT", {K.PUMP_AND_DUMP: 0.1}, T0 + 5 * 60_000)
    assert ended is not None and ended.change is Change.ENDED


def test_symbols_are_independent_and_primary_kind_needs_a_reading_near_its_alarm() -> None:
    book = EventBook(AlertPolicySettings())
    assert book.step("A", {K.PRICE_MOVE: 1.1}, T0) is not None
    assert book.step("B", {K.PRICE_MOVE: 1.1}, T0) is not None
    assert primary_kind({K.PRICE_MOVE: 1.1, K.PUMP_AND_DUMP: 0.5}) is K.PRICE_MOVE
    assert primary_kind({K.PRICE_MOVE: 0.5}) is None
