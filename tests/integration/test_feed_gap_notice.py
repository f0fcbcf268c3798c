"""The monitor says when it was blind: the live Bybit source (real pybit against the local Bybit v5
server) loses its feed for longer than VIRTUOSO_NOTICES__FEED_GAP_MIN_S; when it is back and the gap
is backfilled, Discord gets one message and the relay one feed_gap message naming the symbols, how
long, and that the gap was backfilled. A shorter gap is only counted."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Iterator

import pytest
from websockets.asyncio.client import connect

from tests.bybit_server import BybitServer, fast_env
from tests.delivery_factories import wait_for
from tests.discord_receiver import DiscordReceiver
from virtuoso.app.engine import Engine
from virtuoso.config import load_settings
from virtuoso.storage.memory import MemoryStore

pytestmark = pytest.mark.slow


def gaps(r: DiscordReceiver) -> list[dict]:
    """Discord messages about feed gaps (the stream may also raise alerts of its own)."""
    return [p for p in r.payloads() if "Feed gap" in str(p.get("embeds"))]


@pytest.fixture
def server() -> Iterator[BybitServer]:
    with BybitServer(("BTCUSDT", "ETHUSDT"), interval_s=0.05) as srv:
        yield srv


def test_a_long_feed_gap_is_told_once_to_discord_and_the_relay_after_its_backfill(server: BybitServer,
                                                                                  tmp_path: Path) -> None:
    with DiscordReceiver() as r:
        env = fast_env(server, VIRTUOSO_SOURCE="bybit", VIRTUOSO_DATA_DIR=str(tmp_path),
                       VIRTUOSO_DISCORD__WEBHOOK_URL=r.url, VIRTUOSO_RELAY__ENABLED="true", VIRTUOSO_RELAY__PORT="0",
                       VIRTUOSO_NOTICES__FEED_GAP_MIN_S="1.5")
        engine = Engine(load_settings(env, env_file=None), store=MemoryStore()).start()
        try:
            assert engine.wait_until(lambda e: e.health()["source"].get("connected")
                                     and e.health()["source"]["backfill"]["state"] == "done", 20)
            server.drop_all()  # a short gap: reconnects at once
            assert engine.wait_until(lambda e: e.health()["sinks"]["notices"]["feed_gaps_too_short"] >= 1, 20)
            assert gaps(r) == []

            async def gap_on_relay() -> dict:
                async with connect(f"ws://127.0.0.1:{engine.delivery.relay_port}") as ws:
                    await ws.send(json.dumps({"op": "subscribe", "channels": ["alerts"]}))
                    await ws.recv()
                    server.refuse_for(2.5)
                    await asyncio.to_thread(server.drop_all)
                    while True:
                        m = json.loads(await asyncio.wait_for(ws.recv(), 30))
                        if m["type"] == "feed_gap":
                            return m
            relay = asyncio.run(gap_on_relay())
            assert set(relay["data"]["symbols"]) == {"BTCUSDT", "ETHUSDT"} and relay["data"]["backfilled"] is True
            assert relay["data"]["duration_s"] >= 2.0
            assert wait_for(lambda: len(gaps(r)) == 1, 30)
            text = str(gaps(r)[0])
            assert "BTCUSDT, ETHUSDT" in text and "backfilled" in text and "blind" in text
            assert engine.health()["sinks"]["notices"]["feed_gaps_told"] == 1
        finally:
            engine.stop()
