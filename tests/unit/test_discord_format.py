"""Discord payloads: three titled embeds per event, limits always respected, markdown and mentions neutralised."""

from __future__ import annotations

import math

from hypothesis import given, settings, strategies as st

from tests.delivery_factories import line
from tests.discord_receiver import validate
from tests.state_factories import alert
from virtuoso.alerting import discord_format as fmt
from virtuoso.domain.alerts import Alert, AlertKind, Change, Severity
from virtuoso.domain.notices import FeedGap
from virtuoso.domain.trades import PaperTradeEvent, PositionSide, TradeAction
from virtuoso.state.snapshot import SymbolSnapshot


def snapshot(symbol: str = "BTCUSDT", simulated: bool = False) -> SymbolSnapshot:
    return SymbolSnapshot(symbol, 1_700_000_000_000, 65_000.5, 65_001.0, 65_000.0, 12_345.0, 8.0e8, 0.0001,
                          10_000.0, 6.5e8, 65_000.0, 65_001.0, 1.25, -3.5, 4.2, 900.0, 300.0, simulated)


def trade(action: TradeAction = TradeAction.OPEN, simulated: bool = False) -> PaperTradeEvent:
    return PaperTradeEvent("t1", "ETHUSDT", action, PositionSide.LONG, 0.5, 2000.0, 1000.0, 74.0, "confluence 74",
                           1_700_000_000_000, 12.5 if action == TradeAction.CLOSE else 0.0, simulated)


def test_an_event_message_has_exactly_the_three_titled_embeds_coloured_by_severity() -> None:
    a = alert(severity=Severity.CRITICAL, oi_change_pct=5.2, liq_usd=300_000, ratio=6.0)
    p = fmt.alert_message(a, snapshot(), 81.0)
    assert [e["title"] for e in p["embeds"]] == ["Market Overview", "Institutional Activity", "Trading Outlook"]
    assert "CRITICAL" in p["embeds"][0]["description"] and "BTCUSDT" in p["embeds"][0]["description"]
    assert {e["color"] for e in p["embeds"]} == {fmt.SEVERITY_COLOUR[Severity.CRITICAL]}
    inst = {f["name"] for f in p["embeds"][1]["fields"]}
    assert {"Open interest", "OI 1h", "oi change pct", "liq usd"} <= inst  # old flat evidence still shows
    assert p["allowed_mentions"] == {"parse": []}
    assert "files" not in p and "attachments" not in p
    assert f"event id {a.id}" in p["embeds"][-1]["footer"]["text"]
    assert validate(p) is None


def test_evidence_lines_are_used_when_present_and_the_change_is_said() -> None:
    a = line(severity=Severity.HIGH, change=Change.ESCALATED, direction=1)
    p = fmt.alert_message(a, snapshot("SOLUSDT"), None, outlook_note="Past pump and dump events on SOLUSDT: 7 of 9 reversed within 1 h.")
    overview, inst, outlook = p["embeds"]
    assert "Price +3.1 % in 5 min" in overview["description"] and "escalated" in overview["description"]
    assert "OI +1.4 % in 5 min" in inst["description"]  # the OI line goes to Institutional Activity
    assert "Takers bought 71 %" in outlook["description"]
    assert "7 of 9 reversed within 1 h" in outlook["description"]
    assert any(f["name"] == "Direction" and "up" in f["value"] for f in overview["fields"])
    assert any("threshold" in f["value"] for f in outlook["fields"])  # the readings' levels
    assert validate(p) is None


def test_a_chart_is_the_last_embeds_image_by_attachment_name() -> None:
    p = fmt.with_attachment(fmt.alert_message(line(), image=fmt.CHART_FILENAME), fmt.CHART_FILENAME, 0)
    assert p["embeds"][-1]["image"] == {"url": "attachment://chart.png"}
    assert p["attachments"] == [{"id": 0, "filename": "chart.png"}]


def test_a_feed_gap_says_which_symbols_for_how_long_and_whether_it_was_backfilled() -> None:
    gap = FeedGap(1_700_000_000_000, 1_700_000_192_000, ("BTCUSDT", "ETHUSDT"), "connection lost", "bybit", 12)
    p = fmt.gap_message(gap)
    text = str(p)
    assert "3 min 12 s" in text and "BTCUSDT, ETHUSDT" in text and "backfilled" in text and "12 one-minute bars" in text
    failed = fmt.gap_message(FeedGap(0, 90_000, ("BTCUSDT",), "stale", "bybit", 0, "429 rate limited"))
    assert "could not be backfilled" in str(failed)
    assert validate(p) is None and validate(failed) is None


def test_real_data_is_never_labelled_simulated_and_simulated_data_always_is() -> None:
    real = fmt.alert_message(alert(), snapshot(), None)
    assert "SIMULATED" not in str(real)
    by_flag = fmt.alert_message(Alert.from_dict({**alert().to_dict(), "simulated": True}), None, None)
    by_view = fmt.alert_message(alert(), None, None, simulated=True)
    for p in (by_flag, by_view):
        assert "SIMULATED" in p["content"] and "SIMULATED" in p["embeds"][-1]["footer"]["text"]
    assert "SIMULATED" in fmt.trade_message(trade(simulated=True))["content"]
    assert "SIMULATED" not in str(fmt.trade_message(trade()))


def test_markdown_and_mentions_in_symbol_text_are_neutralised() -> None:
    a = Alert("x1", "@everyone **PUMP**", AlertKind.PRICE_MOVE, Severity.HIGH, 70.0, 1_700_000_000_000,
              {}, "<@123> [click](http://evil) `code`")
    p = fmt.alert_message(a)
    title, desc = p["content"], p["embeds"][0]["description"]
    assert "@everyone" not in title and "@\u200beveryone" in title
    assert "\\*\\*PUMP\\*\\*" in title
    assert "\\[click\\]\\(http" in desc and "\\<@\u200b123" in desc and "\\`code\\`" in desc


def test_trade_messages_show_pnl_only_on_close() -> None:
    opened = fmt.trade_message(trade(TradeAction.OPEN))
    closed = fmt.trade_message(trade(TradeAction.CLOSE))
    assert "PnL" not in {f["name"] for f in opened["embeds"][0]["fields"]}
    assert "PnL" in {f["name"] for f in closed["embeds"][0]["fields"]}
    assert "OPEN LONG ETHUSDT" in opened["embeds"][0]["title"]


def test_oversized_text_is_cut_with_an_ellipsis_not_rejected() -> None:
    big = {"username": "v", "content": "c" * 5000, "embeds": [
        {"title": "t" * 999, "description": "d" * 9000, "footer": {"text": "f" * 3000}, "author": {"name": "a" * 500},
         "fields": [{"name": "n" * 400, "value": "v" * 2000} for _ in range(40)]} for _ in range(12)]}
    p = fmt.enforce_limits(big)
    assert validate(p) is None
    assert len(p["embeds"]) == 10 and len(p["embeds"][0]["fields"]) == 25
    assert p["content"].endswith(fmt.ELLIPSIS) and len(p["content"]) == 2000
    assert fmt.embed_text_len(p["embeds"]) <= 6000


def test_nan_values_render_as_not_available() -> None:
    snap = snapshot()
    nan_snap = SymbolSnapshot(*[math.nan if isinstance(v, float) else v for v in
                                (getattr(snap, f) for f in snap.__dataclass_fields__)])
    p = fmt.alert_message(alert(), nan_snap, math.nan)
    assert "n/a" in str(p) and "nan" not in str(p).lower().replace("n/a", "")
    assert validate(p) is None


def test_truncate_counts_astral_characters_as_two_units() -> None:
    s = "😀" * 10
    out = fmt.truncate(s, 7)
    assert fmt.utf16_len(out) <= 7 and out.endswith(fmt.ELLIPSIS)


texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=3000)


@settings(max_examples=150, deadline=None)
@given(symbol=texts, message=texts, keys=st.lists(texts, max_size=40), value=texts,
       kind=st.sampled_from(list(AlertKind)), severity=st.sampled_from(list(Severity)),
       score=st.floats(allow_nan=True, allow_infinity=True), simulated=st.booleans())
def test_any_alert_text_gives_a_payload_within_discord_limits(symbol: str, message: str, keys: list[str], value: str,
                                                              kind: AlertKind, severity: Severity, score: float,
                                                              simulated: bool) -> None:
    a = Alert("id", symbol, kind, severity, score if math.isfinite(score) else 0.0, 1_700_000_000_000,
              {k: value for k in keys}, message, simulated)
    lines_alert = Alert.from_dict({**a.to_dict(), "evidence": {"lines": [message, value] + keys}})
    for p in (fmt.alert_message(a, snapshot(), score), fmt.alert_message(lines_alert, None, None, outlook_note=value)):
        assert validate(p) is None
        assert fmt.embed_text_len(p["embeds"]) <= fmt.TOTAL_EMBED_TEXT_MAX
        assert "@everyone" not in str(p["embeds"])
        assert p["allowed_mentions"] == {"parse": []}
        assert ("SIMULATED" in p["content"]) == simulated


@settings(max_examples=100, deadline=None)
@given(embeds=st.lists(st.fixed_dictionaries({
    "title": texts, "description": texts,
    "fields": st.lists(st.fixed_dictionaries({"name": texts, "value": texts}), max_size=30),
    "footer": st.fixed_dictionaries({"text": texts})}), max_size=12), content=texts)
def test_enforce_limits_accepts_any_shape_of_text(embeds: list[dict], content: str) -> None:
    p = fmt.enforce_limits({"content": content, "embeds": embeds})
    errors = validate(p)
    assert errors is None, errors
