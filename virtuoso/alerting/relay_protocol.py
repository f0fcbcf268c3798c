"""The relay's JSON protocol (pure): client requests in, server messages out. See docs/delivery.md.

Client frames::

    {"op": "subscribe", "channels": ["alerts", "market", "trade_alerts"], "token": "..."}
    {"op": "unsubscribe", "channels": ["market"]}
    {"op": "ping"}

Every server message is one JSON object with ``channel``, ``type``, ``ts_ms`` and ``data``. Data
messages use the channel they belong to; replies to a client use the ``control`` channel with
type ``subscribed``, ``unsubscribed``, ``pong`` or ``error`` (``data.code`` + ``data.message``).
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


@dataclass(frozen=True, slots=True)
class Request:
    """A valid client request. ``channels`` is empty for ping."""

    op: str
    channels: tuple[str, ...] = ()
    req_id: Any = None


@dataclass(frozen=True, slots=True)
class ProtocolError:
    """Why a client frame was refused; sent back as a ``control``/``error`` message."""

    code: str  # bad_json | bad_request | unknown_op | unknown_channel | unauthorized
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
    return Request(op, tuple(dict.fromkeys(channels)), req_id)


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def encode(channel: str, type_: str, ts_ms: int, data: Any) -> str:
    """One server message as strict JSON text (NaN and infinities become null)."""
    return json.dumps(
        {"channel": channel, "type": type_, "ts_ms": int(ts_ms), "data": _clean(data)},
        separators=(",", ":"), allow_nan=False, default=str,
    )


def reply(req: Request | ProtocolError, ts_ms: int, subscribed: tuple[str, ...] = ()) -> str:
    """The control message answering a request (or describing why it was refused)."""
    if isinstance(req, ProtocolError):
        return encode(CONTROL, "error", ts_ms, {"code": req.code, "message": req.message, "id": req.req_id})
    if req.op == "ping":
        return encode(CONTROL, "pong", ts_ms, {"id": req.req_id})
    kind = "subscribed" if req.op == "subscribe" else "unsubscribed"
    return encode(CONTROL, kind, ts_ms, {"channels": list(subscribed), "id": req.req_id})
