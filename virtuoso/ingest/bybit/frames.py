"""Raw Bybit v5 frames decoded straight into typed rows (pure), the fast way into the parser.

A frame of one of the three busy topics (tickers, public trades, order book) is decoded with
``msgspec`` into typed rows whose decimal strings become floats, range-checked, inside the
decoder: in one pass when the frame starts with its topic (Bybit's do), otherwise in two (the
envelope with ``data`` left raw, then ``data`` once the topic is known). This skips building a
dict per message and per trade and the Python-level ``float()`` per field, which was most of the
parser's cost (see bench/ingest.py).

The fast path is only a shortcut, never a second definition of the wire format:
:class:`virtuoso.ingest.bybit.parse.BybitParser` takes a :class:`Frame` and, for anything these
rows do not describe exactly (an unexpected type, a null, a value out of range, a rare topic), it
decodes the whole frame with ``orjson`` and takes the dict path. So both paths give the same
events and the same counters for every input (a hypothesis test checks it).

Decimal strings are decoded in msgspec's lax mode (``strict=False``); it accepts a subset of what
Python's ``float()`` accepts ("1.5", "1e3", "nan") and rejects the rest (" 1.5", "1_000", "+5"),
which then go the dict path. Integers are never converted from strings here (lax mode would
read "1e3" as 1000, ``int()`` refuses it): timestamps and update ids are read as JSON values.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any, NamedTuple

import msgspec

from virtuoso.domain.events import Side


# Range checks run inside the decoder: NaN fails every bound, infinity fails the upper one.
_MAX = sys.float_info.max
Positive = Annotated[float, msgspec.Meta(gt=0.0, le=_MAX)]
NonNegative = Annotated[float, msgspec.Meta(ge=0.0, le=_MAX)]
Finite = Annotated[float, msgspec.Meta(ge=-_MAX, le=_MAX)]
TradeId = Annotated[str, msgspec.Meta(max_length=64)]


class _Head(msgspec.Struct, gc=False):
    """The members every public message has besides ``data``."""

    topic: Any = None
    op: Any = None  # control frames (subscribe acks, pongs) and a replay file's meta line
    type: Any = None
    ts: Any = None


class Envelope(_Head, gc=False):
    """A frame whose ``data`` stays undecoded until its topic is known."""

    data: msgspec.Raw = msgspec.Raw()


class Frame(NamedTuple):
    """A frame as received: its decoded envelope and the raw bytes (for the dict path)."""

    envelope: Envelope | TradesEnvelope | TickerEnvelope | BookEnvelope
    raw: bytes | str


class TradeRow(msgspec.Struct, gc=False):
    """One ``publicTrade`` entry; absent optional members keep their defaults."""

    T: Any
    S: Side
    v: Positive
    p: Positive
    s: str | msgspec.UnsetType = msgspec.UNSET
    i: TradeId = ""
    BT: Any = False


class TickerRow(msgspec.Struct, gc=False):
    """A ``tickers`` snapshot or delta: ``None`` means the member is absent (or null) in this frame.

    The float fields come first, in :data:`TICKER_ATTRS`' order, so a row's tuple zips with a
    merged ticker; ``symbol`` is last.
    """

    lastPrice: NonNegative | None = None
    markPrice: NonNegative | None = None
    indexPrice: NonNegative | None = None
    openInterest: NonNegative | None = None
    openInterestValue: NonNegative | None = None
    fundingRate: Finite | None = None  # the only one that may be negative
    nextFundingTime: NonNegative | None = None
    volume24h: NonNegative | None = None
    turnover24h: NonNegative | None = None
    bid1Price: NonNegative | None = None
    bid1Size: NonNegative | None = None
    ask1Price: NonNegative | None = None
    ask1Size: NonNegative | None = None
    symbol: str | msgspec.UnsetType = msgspec.UNSET


# Ticker attribute of each TickerRow float field, in order.
TICKER_ATTRS = ("last_price", "mark_price", "index_price", "open_interest", "open_interest_value",
                "funding_rate", "next_funding_ms", "volume_24h", "turnover_24h", "bid_price", "bid_size",
                "ask_price", "ask_size")


class BookRow(msgspec.Struct, gc=False):
    """An ``orderbook`` snapshot or delta: ``[price, size]`` levels as float pairs."""

    s: str | msgspec.UnsetType = msgspec.UNSET
    b: list[tuple[Positive, NonNegative]] = msgspec.field(default_factory=list)  # size 0 deletes
    a: list[tuple[Positive, NonNegative]] = msgspec.field(default_factory=list)
    u: Any = 0


class TradesEnvelope(_Head, kw_only=True, gc=False):
    """A ``publicTrade`` frame decoded in one pass (see :func:`decode_frame`)."""

    data: list[TradeRow]


class TickerEnvelope(_Head, kw_only=True, gc=False):
    """A ``tickers`` frame decoded in one pass."""

    data: TickerRow


class BookEnvelope(_Head, kw_only=True, gc=False):
    """An ``orderbook`` frame decoded in one pass."""

    data: BookRow


_ENVELOPE = msgspec.json.Decoder(Envelope)
TRADES = msgspec.json.Decoder(list[TradeRow], strict=False)
TICKER = msgspec.json.Decoder(TickerRow, strict=False)
BOOK = msgspec.json.Decoder(BookRow, strict=False)
# One-pass decoders by the first letters of the topic, when the frame starts with it (Bybit's do).
# Keyed by bytes (files) and by str (pybit hands over text frames).
_ONE_PASS: dict[bytes | str, Any] = {
    prefix: msgspec.json.Decoder(envelope, strict=False)
    for topic, envelope in (("pub", TradesEnvelope), ("tic", TickerEnvelope), ("ord", BookEnvelope))
    for prefix in ('{"topic":"' + topic, ('{"topic":"' + topic).encode())
}
DecodeFailed = (msgspec.DecodeError, msgspec.ValidationError)
_new = tuple.__new__  # a NamedTuple without its Python-level __new__ (called once per frame)


def decode_frame(raw: bytes | str) -> Frame | None:
    """The frame's envelope, or None when ``raw`` is not one JSON object.

    Bybit writes the topic first, so its first letters name the busy topics' one-pass decoders:
    such a frame is decoded whole, its ``data`` into typed rows (a :class:`TradesEnvelope`,
    :class:`TickerEnvelope` or :class:`BookEnvelope`). A guess is only a guess: the parser still
    routes by the whole topic and checks the envelope's type. If the one-pass decode fails, or the
    frame starts otherwise, only the envelope is decoded and ``data`` is left raw.
    """
    one_pass = _ONE_PASS.get(raw[:13])
    if one_pass is not None:
        try:
            return _new(Frame, (one_pass.decode(raw), raw))
        except DecodeFailed:
            pass
    try:
        return _new(Frame, (_ENVELOPE.decode(raw), raw))
    except DecodeFailed:
        return None


def typed_data(envelope: Any, one_pass: type, decoder: msgspec.json.Decoder) -> Any:
    """The frame's ``data`` as typed rows: already there in a ``one_pass`` envelope, or decoded now
    from a plain one; None when it does not fit (the parser then takes the dict path)."""
    kind = type(envelope)
    if kind is one_pass:
        return envelope.data
    if kind is Envelope:  # else a one-pass guess that does not fit the topic (duplicate "topic" members)
        try:
            return decoder.decode(envelope.data)
        except DecodeFailed:
            return None
    return None
