"""The Alerts page's Alert outcomes section (AppTest): the table per kind and severity, the measured
sentence and the events, from MonitorView.alert_outcomes; a view without outcomes says so."""

from __future__ import annotations

from typing import Any, Sequence

from tests.delivery_factories import ALERT_MINUTE, known_path, path_bars
from tests.ui_factories import T0_MS, FakeView
from virtuoso.alerting.outcomes import Outcome, compute_outcome


class OutcomeView(FakeView):
    def alert_outcomes(self, since_ms: int | None = None, symbols: Sequence[str] | None = None) -> list[Outcome]:
        closes, oi, funding = known_path()
        start = T0_MS - 10 * 3_600_000
        bars = path_bars("SOLUSDT", start, closes, oi=oi, funding=funding)
        base = Outcome("e1", "SOLUSDT", "pump_and_dump", "high", 1, start + ALERT_MINUTE * 60_000 + 30_000, True)
        done = compute_outcome(base, bars, 2.0)
        pending = Outcome("e2", "ETHUSDT", "oi_surge", "watch", 0, T0_MS - 600_000, True)
        return [o for o in (done, pending) if o.ts_ms >= (since_ms or 0)]


def test_the_alerts_page_shows_outcomes_per_kind_and_severity_and_per_event(app: Any, tmp_path: Any) -> None:
    from tests.ui_factories import ui_settings

    at = app(OutcomeView(ui_settings(tmp_path)), "pages/alerts.py")
    assert not at.exception
    assert any(s.value == "Alert outcomes" for s in at.subheader)
    frames = [d.value for d in at.dataframe]
    table = next(f for f in frames if "hit rate" in f.columns)
    row = table[table["kind"] == "pump and dump"].iloc[0]
    assert row["hit rate"] == "100% (1 of 1)" and row["reversed within 1 h"] == "1 of 1"
    events = next(f for f in frames if "+1 h" in f.columns)
    assert set(events["id"]) == {"e1", "e2"} and "-1.00 %" in set(events["+1 h"])
    assert any("SOLUSDT" in m.value and "1 of 1 reversed within 1 h" in m.value for m in at.markdown)


def test_a_view_without_outcomes_says_so_instead_of_failing(app: Any, view: Any) -> None:
    at = app(view, "pages/alerts.py")
    assert not at.exception and not at.error
    assert any("Outcomes are not available" in i.value for i in at.info)
