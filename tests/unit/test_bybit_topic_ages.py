"""The live link's per-topic message ages: subscribed topics only, the rest counted."""

from __future__ import annotations

import json

import orjson

from virtuoso.config import load_settings
from virtuoso.domain.clock import ManualClock
from virtuoso.ingest.bybit.link import Link
from virtuoso.ingest.bybit.topics import topics_for


def frame(topic: str, ts: int) -> bytes:
    return orjson.dumps({"topic": topic, "type": "snapshot", "ts": ts, "data": {"symbol": topic.rsplit(".", 1)[-1]}})


def test_frames_on_unsubscribed_topics_are_counted_and_never_grow_the_age_table():
    settings = load_settings({"VIRTUOSO_SYMBOLS": "BTCUSDT,ETHUSDT"}, env_file=None)
    clock = ManualClock()
    clock.set_ms(1_700_000_000_000)
    emitted: list[object] = []
    link = Link(settings, clock, [lambda msg, ts: emitted.append(msg)], lambda: None,
                topics=topics_for(settings.symbols, settings.bybit.orderbook_depth))
    link.on_frame(frame("tickers.BTCUSDT", 1))
    link.on_frame(frame("publicTrade.ETHUSDT", 2))
    small = len(json.dumps(link.stats()))
    for i in range(40_000):
        link.on_frame(frame(f"tickers.X{i}USDT", 3))
    stats = link.stats()
    assert set(stats["last_message_age_s"]) == {"tickers.BTCUSDT", "publicTrade.ETHUSDT"}
    assert stats["unsubscribed_topic_messages"] == 40_000
    assert stats["data_messages"] == 40_002 and len(emitted) == 40_002  # still handed on: the parser counts them
    assert len(json.dumps(stats)) < small + 100
