"""The relay's JSON protocol (pure): client requests in, server messages out. See docs/delivery.md.

Client frames::

    {"op": "subscribe", "channels": ["alerts", "market", "trade_alerts"], "token": "..."}
    {"op": "subscribe", "channels": ["alerts", "trade_alerts"], "since": 1700000000000}
    {"op": "subscribe", "channels": ["alerts"], "since": "41632d97a9ebb01a"}
    {"op": "subscribe", "channels": ["alerts"], "after_seq": 1234}
    {"op": "unsubscribe", "channels": ["market"]}
    {"op": "ping"}

Every server message is one JSON object with ``channel``, ``type``, ``ts_ms`` and ``data``. Data
messages use the channel they belong to; replies to a client use the ``control`` channel with
type ``subscribed``, ``unsubscribed``, ``pong`` or ``error`` (``data.code`` + ``data.message``).

Resuming: messages that come from the outbox (alert lines, outcomes, notices, trades) also carry
``seq``, their position in the outbox, and their ``ts_ms`` is when Virtuoso recorded them. A
subscription with ``since`` (a time in ms: everything recorded at or after it; or an event id:
everything after that event's latest line) or ``after_seq`` (everything after that position: the
exact cursor) first receives what it missed from the store, oldest first, then the live stream,
with nothing lost or repeated at the seam. Lines raised on warm-up history are only ever sent
this way (``"history": true``).
Non-finite floats (NaN before an hour of bars exists) are sent as ``null`` so every frame is
strict JSON.
"""

from __future__ import annotations

import hmac
import json
import math
from dataclasses import dataclass
from typing import Any

CHANNELS = ("alerts", "market", "trade_alerts")
CONTROL = "control"
OPS = ("subscribe", "unsubscribe", "ping")
REPLAY_CHANNELS = ("alerts", "trade_alerts")  # the channels with a history in the outbox
EVENT_ID_MAX = 128


@dataclass(frozen=True, slots=True)
class Request:
    """A valid client request. ``channels`` is empty for ping."""

    op: str
    channels: tuple[str, ...] = ()
    req_id: Any = None
    since_ms: int | None = None
    since_event: str | None = None
    after_seq: int | None = None

    @property
    def resumes(self) -> bool:
        return self.since_ms is not None or self.since_event is not None or self.after_seq is not None


@dataclass(frozen=True, slots=True)
class ProtocolError:
    """Why a client frame was refused; sent back as a ``control``/``error`` message."""

    code: str  # bad_json | bad_request | unknown_op | unknown_channel | unauthorized | unknown_event
    message: str
    req_id: Any = None


def parse_request(frame: str | bytes, token: str | None) -> Request | ProtocolError:
    """Validate one client frame; a subscription must carry ``token`` when one is configured."""
    try:
        msg = json.loads(frame)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurdly deep nesting
        return ProtocolError("bad_json", "frame is not valid JSON")
    if not isinstance(msg, dict):
        return ProtocolError("bad_request", "expected a JSON object like {\"op\": \"ping\"}")
    req_id = msg.get("id")
    if not isinstance(req_id, (str, int, type(None))) or isinstance(req_id, bool):
        req_id = None
    op = msg.get("op")
    if op not in OPS:
        return ProtocolError("unknown_op", f"unknown op {str(op)[:40]!r}; expected one of {', '.join(OPS)}", req_id)
    if op == "ping":
        return Request("ping", (), req_id)
    channels = msg.get("channels")
    if not isinstance(channels, list) or not channels or not all(isinstance(c, str) for c in channels):
        return ProtocolError("bad_request", f"{op} needs a non-empty list of channels", req_id)
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        return ProtocolError(
            "unknown_channel", f"unknown channel {unknown[0][:40]!r}; expected {', '.join(CHANNELS)}", req_id
        )
    if op == "subscribe" and token is not None:
        given = msg.get("token")
        if not isinstance(given, str) or not hmac.compare_digest(given.encode(), token.encode()):
            return ProtocolError("unauthorized", "missing or wrong token", req_id)
    since_ms = since_event = after_seq = None
    if op == "subscribe":
        since, after = msg.get("since"), msg.get("after_seq")
        if since is not None:
            if isinstance(since, bool) or not isinstance(since, (int, str)) or (isinstance(since, int) and since < 0):
                return ProtocolError("bad_request", "since must be a time in ms or an event id", req_id)
            if isinstance(since, int):
                since_ms = since
            elif not since or len(since) > EVENT_ID_MAX:
                return ProtocolError("bad_request", "since must be a time in ms or an event id", req_id)
            else:
                since_event = since
        if after is not None:
            if isinstance(after, bool) or not isinstance(after, int) or after < 0:
                return ProtocolError("bad_request", "after_seq must be a non-negative integer", req_id)
            after_seq = after
    return Request(op, tuple(dict.fromkeys(channels)), req_id, since_ms, since_event, after_seq)


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def encode(channel: str, type_: str, ts_ms: int, data: Any, seq: int | None = None, history: bool = False) -> str:
    """One server message as strict JSON text (NaN and infinities become null)."""
    msg: dict[str, Any] = {"channel": channel, "type": type_, "ts_ms": int(ts_ms)}
    if seq is not None:
        msg["seq"] = int(seq)
    if history:
        msg["history"] = True
    msg["data"] = _clean(data)
    return json.dumps(msg, separators=(",", ":"), allow_nan=False, default=str)


def item_route(kind: str, payload: Any) -> tuple[str, str]:
    """(channel, type) of an outbox item on the relay."""
    if kind == "trade":
        action = payload.get("action", "event") if isinstance(payload, dict) else "event"
        return "trade_alerts", f"trade_{action}"
    if kind == "notice":
        return "alerts", str(payload.get("type") or "notice") if isinstance(payload, dict) else "notice"
    return "alerts", kind  # alert | outcome


def channel_kinds(channel: str) -> tuple[str, ...]:
    """The outbox kinds a channel carries (what a resuming client is sent)."""
    return {"alerts": ("alert", "outcome", "notice"), "trade_alerts": ("trade",)}.get(channel, ())


def reply(req: Request | ProtocolError, ts_ms: int, subscribed: tuple[str, ...] = ()) -> str:
    """The control message answering a request (or describing why it was refused)."""
    if isinstance(req, ProtocolError):
        return encode(CONTROL, "error", ts_ms, {"code": req.code, "message": req.message, "id": req.req_id})
    if req.op == "ping":
        return encode(CONTROL, "pong", ts_ms, {"id": req.req_id})
    kind = "subscribed" if req.op == "subscribe" else "unsubscribed"
    return encode(CONTROL, kind, ts_ms, {"channels": list(subscribed), "id": req.req_id})


def resumed(req: Request, ts_ms: int, subscribed: tuple[str, ...], replayed: int, live_from_seq: int,
            truncated: bool) -> str:
    """The answer to a subscription with ``since``/``after_seq``: how much history follows, and
    from which position on the stream is live; when ``truncated``, ask again with
    ``after_seq`` = the last ``seq`` received."""
    return encode(CONTROL, "subscribed", ts_ms, {"channels": list(subscribed), "id": req.req_id, "replayed": replayed,
                                                 "live_from_seq": live_from_seq, "truncated": truncated})
