"""The relay protocol's pure parts: request validation and strict-JSON server messages."""

from __future__ import annotations

import json
import math

from hypothesis import given, strategies as st

from virtuoso.alerting import relay_protocol as proto


def test_a_valid_subscription_deduplicates_channels_and_checks_the_token() -> None:
    r = proto.parse_request('{"op":"subscribe","channels":["alerts","alerts","market"],"token":"t"}', "t")
    assert r == proto.Request("subscribe", ("alerts", "market"))
    bad = proto.parse_request('{"op":"subscribe","channels":["alerts"],"token":"x"}', "t")
    assert isinstance(bad, proto.ProtocolError) and bad.code == "unauthorized"
    assert proto.parse_request('{"op":"unsubscribe","channels":["alerts"]}', "t") == proto.Request("unsubscribe", ("alerts",))


def test_server_messages_are_strict_json_with_nan_as_null() -> None:
    text = proto.encode("market", "snapshot", 5, {"a": math.nan, "b": [math.inf, 1.5]})
    assert json.loads(text) == {"channel": "market", "type": "snapshot", "ts_ms": 5, "data": {"a": None, "b": [None, 1.5]}}


@given(st.one_of(st.text(), st.binary(), st.recursive(
    st.none() | st.booleans() | st.floats() | st.text(), lambda c: st.lists(c) | st.dictionaries(st.text(), c)
).map(json.dumps)))
def test_any_frame_gives_a_request_or_a_protocol_error_and_a_json_reply(frame: str | bytes) -> None:
    r = proto.parse_request(frame, "tok")
    assert isinstance(r, (proto.Request, proto.ProtocolError))
    json.loads(proto.reply(r, 1))


def test_absurdly_deep_nesting_is_bad_json_not_a_crash() -> None:
    r = proto.parse_request("[" * 50_000 + "]" * 50_000, None)
    assert isinstance(r, proto.ProtocolError) and r.code == "bad_json"
