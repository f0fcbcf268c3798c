"""Line protocol escaping: whatever the text, a formatted point parses back to exactly what went in."""

from __future__ import annotations

import math

from hypothesis import example, given
from hypothesis import strategies as st

from virtuoso.storage.line_protocol import (
    decode_tag_value,
    encode_tag_value,
    format_field_value,
    format_line,
    parse_line,
)

SPECIAL = st.sampled_from([",", " ", "=", '"', "'", "\\", "\n", "\r", "\t", "%", "%2C", "#", "\x00", "\x85", "\u2028", "é", "😀"])
nasty_text = st.lists(st.one_of(SPECIAL, st.text(max_size=3)), min_size=1, max_size=12).map("".join).filter(bool)
key_text = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\\"),
                   min_size=1, max_size=12)
field_values = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    st.text(max_size=20) | nasty_text,
)


@given(nasty_text)
@example("trail\\")
@example("%")
@example("a\\,b")
def test_tag_value_encoding_is_reversible_and_leaves_no_backslash_or_control_character(value):
    encoded = encode_tag_value(value)
    assert decode_tag_value(encoded) == value
    assert "\\" not in encoded and not any(ord(c) < 0x20 or ord(c) == 0x7F for c in encoded)


@given(
    measurement=key_text.filter(lambda s: not s.startswith("#")),
    tags=st.dictionaries(key_text, nasty_text, max_size=4),
    fields=st.dictionaries(key_text, field_values, min_size=1, max_size=5),
    time=st.integers(min_value=-(2**53), max_value=2**53),
)
def test_a_formatted_point_parses_back_to_the_same_measurement_tags_fields_and_time(measurement, tags, fields, time):
    line = format_line(measurement, tags, list(fields.items()), time)
    m, t, f, ts = parse_line(line)
    assert (m, t, f, ts) == (measurement, tags, fields, time)
    assert "\n" not in line.split('"')[0]  # a newline can only appear inside a quoted string field


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_are_always_written_as_floats_never_as_integers(x):
    text = format_field_value(x)
    assert text is not None and not text.endswith("i") and ("." in text or "e" in text)
    assert float(text) == x


@given(st.sampled_from([math.nan, math.inf, -math.inf]))
def test_non_finite_floats_are_left_out(x):
    assert format_field_value(x) is None
