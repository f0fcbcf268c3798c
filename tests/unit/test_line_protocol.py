"""Line protocol formatting and the InfluxDB schema: exact lines for known inputs."""

from __future__ import annotations

import math

import pytest

from virtuoso.domain.alerts import Alert, AlertKind, Severity
from virtuoso.domain.bars import Bar
from virtuoso.storage import influx_schema as schema
from virtuoso.storage.line_protocol import LineProtocolError, encode_tag_value, format_line, parse_line


def test_tag_keys_values_and_field_keys_escape_commas_equals_and_spaces():
    line = format_line("my meas,x", {"t k": "a,b=c d"}, [("f=1", 1.0)], 5)
    assert line == r"my\ meas\,x,t\ k=a\,b\=c\ d f\=1=1.0 5"


def test_string_fields_escape_quotes_and_backslashes_and_keep_newlines_inside_the_quotes():
    assert format_line("m", {}, [("s", 'say "hi"\\\nbye')], 1) == 'm s="say \\"hi\\"\\\\\nbye" 1'


def test_field_types_are_fixed_by_python_type():
    assert format_line("m", {}, [("f", 1.0), ("i", 1), ("b", True), ("e", 1e-05)], 1) == "m f=1.0,i=1i,b=true,e=1e-05 1"


def test_nan_fields_are_omitted_and_a_point_with_no_field_left_is_refused():
    assert format_line("m", {}, [("a", math.nan), ("b", 2.0)], 1) == "m b=2.0 1"
    with pytest.raises(LineProtocolError):
        format_line("m", {}, [("a", math.nan)], 1)


def test_tags_are_sorted_by_key_and_empty_tag_values_are_refused():
    assert format_line("m", {"z": "1", "a": "2"}, [("f", 1.0)], 1).startswith("m,a=2,z=1 ")
    with pytest.raises(LineProtocolError):
        format_line("m", {"a": ""}, [("f", 1.0)], 1)


def test_backslashes_newlines_and_percent_in_tag_values_are_percent_encoded():
    assert encode_tag_value("a\\b\nc%d") == "a%5Cb%0Ac%25d"
    assert encode_tag_value("BTCUSDT") == "BTCUSDT"


def test_a_bar_with_unknown_open_interest_round_trips_through_its_line_with_nan():
    bar = Bar("BTC USDT", 1_700_000_040_000, 60, 1.0, 2.0, 0.5, 1.5, volume=3.0, trade_count=4, simulated=True)
    line = schema.bar_line(bar)
    assert "open_interest" not in line and "funding_rate" not in line and "trade_count=4i" in line
    _, tags, fields, t = parse_line(line)
    back = schema.bar_from_record(schema.record_from_fields(tags, fields, t))
    assert back.symbol == "BTC USDT" and back.close == 1.5 and math.isnan(back.open_interest) and back.simulated


def test_an_alert_line_carries_the_id_as_a_field_and_evidence_as_json():
    a = Alert("abc", "ETHUSDT", AlertKind.VOLUME_SPIKE, Severity.HIGH, 80.0, 1_700_000_000_000,
              {"ratio": 7.5, "why": 'x "y"'}, "msg", False)
    line = schema.alert_line(a, written_ms=42)
    assert line.startswith("alerts,kind=volume_spike,symbol=ETHUSDT ")
    _, tags, fields, t = parse_line(line)
    written, back = schema.alert_from_record(schema.record_from_fields(tags, fields, t))
    assert back == a and written == 42


def test_the_latest_written_version_of_an_alert_wins():
    def a(sev: Severity, ts: int) -> Alert:
        return Alert("id", "X", AlertKind.OI_SURGE, sev, 1.0, ts)

    assert schema.latest_alerts([(2, a(Severity.WATCH, 5)), (1, a(Severity.CRITICAL, 9))]) == [a(Severity.WATCH, 5)]
    assert schema.latest_alerts([(1, a(Severity.WATCH, 5)), (1, a(Severity.HIGH, 5))]) == [a(Severity.HIGH, 5)]


def test_influxql_quotes_identifiers_and_string_literals():
    assert schema.quote_string("it's \\ a\nb") == "'it\\'s \\\\ a\\nb'"
    assert schema.quote_ident('we"ird') == '"we\\"ird"'
    q = schema.bars_query("x' OR 1=1 --", 0, 60_000)
    assert q == ("SELECT * FROM \"bars_1m\" WHERE \"symbol\" = 'x\\' OR 1=1 --' "
                 "AND time >= 0ms AND time < 60000ms ORDER BY time ASC")
    assert "\"symbol\" = 'A' OR \"symbol\" = 'B%5C'" in schema.alerts_query(0, 1, ["A", "B\\"])


def test_the_fast_bar_formatter_writes_the_same_line_as_the_generic_one():
    nan = float("nan")
    for bar in (Bar("A B,C", 60_000, 60, 1.0, 2.0, 0.5, 1.5, 3.0, 4.0, 5, 1.0, 2.0, nan, nan, 0.0, 0.25, True),
                Bar("X\\", 0, 60, 1e-05, 1e16, -0.0, 2.0, open_interest=7.0, funding_rate=-0.0001)):
        fields = [(k, float(getattr(bar, k))) for k in schema._BAR_FLOATS]
        fields += [("trade_count", bar.trade_count), ("interval_s", bar.interval_s), ("simulated", bar.simulated)]
        assert schema.bar_line(bar) == format_line("bars_1m", {"symbol": bar.symbol}, fields, bar.start_ms)
