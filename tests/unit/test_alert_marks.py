"""AlertMarks: acknowledgements and time-limited mutes persisted in the embedded database."""

from __future__ import annotations

import pytest

from tests.ui_factories import make_alert
from virtuoso.alerting.marks import AlertMarks, Mute, is_muted_by
from virtuoso.domain.alerts import AlertKind

NOW = 1_700_000_000_000


def test_acknowledgements_survive_reopening_the_database(tmp_path):
    db = tmp_path / "virtuoso.db"
    AlertMarks(db).acknowledge("a1", NOW)
    AlertMarks(db).acknowledge("a1", NOW + 5)  # idempotent
    AlertMarks(db).acknowledge("b2", NOW)
    assert AlertMarks(db).acknowledged() == {"a1", "b2"}


def test_a_muted_symbol_or_kind_mutes_its_alerts_until_the_mute_ends(tmp_path):
    marks = AlertMarks(tmp_path / "virtuoso.db")
    sol = make_alert("SOLUSDT", AlertKind.PUMP_AND_DUMP)
    eth = make_alert("ETHUSDT", AlertKind.OI_SURGE)
    marks.mute("symbol", "SOLUSDT", NOW + 60_000)
    assert marks.is_muted(sol, NOW) and not marks.is_muted(eth, NOW)
    assert not marks.is_muted(sol, NOW + 60_000)  # ends exactly at until_ms
    marks.mute("kind", "oi_surge", NOW + 10)
    assert marks.is_muted(eth, NOW)
    assert marks.active_mutes(NOW) == [Mute("kind", "oi_surge", NOW + 10), Mute("symbol", "SOLUSDT", NOW + 60_000)]


def test_a_new_mute_replaces_the_old_one_and_unmute_ends_it_early(tmp_path):
    marks = AlertMarks(tmp_path / "virtuoso.db")
    marks.mute("symbol", "SOLUSDT", NOW + 60_000)
    marks.mute("symbol", "SOLUSDT", NOW + 10)
    assert marks.active_mutes(NOW) == [Mute("symbol", "SOLUSDT", NOW + 10)]
    marks.unmute("symbol", "SOLUSDT")
    marks.unmute("symbol", "NOTHING")
    assert marks.active_mutes(NOW) == []


def test_markup_in_a_target_is_stored_verbatim_and_a_bad_target_kind_is_refused(tmp_path):
    marks = AlertMarks(tmp_path / "virtuoso.db")
    marks.mute("symbol", "<b>X'); DROP TABLE alert_mutes;--", NOW + 1)
    assert marks.active_mutes(NOW)[0].target == "<b>X'); DROP TABLE alert_mutes;--"
    with pytest.raises(ValueError, match="target_kind"):
        marks.mute("exchange", "bybit", NOW + 1)  # type: ignore[arg-type]


def test_is_muted_by_checks_many_alerts_against_one_list_of_mutes():
    mutes = [Mute("kind", "volume_spike", NOW + 1)]
    assert is_muted_by(mutes, make_alert(kind=AlertKind.VOLUME_SPIKE))
    assert not is_muted_by(mutes, make_alert(kind=AlertKind.PRICE_MOVE))
