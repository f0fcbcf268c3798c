"""Relay clients miss nothing: a real websockets client disconnects, alerts and trades are published,
it reconnects with ``since`` (a time, an event id, or ``after_seq``) and gets each missed message
exactly once, from the store, then the live stream with no gap or duplicate at the seam."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from tests.delivery_factories import DeliveryView, delivery, event_lines, line, wait_for
from virtuoso.domain.trades import PaperTradeEvent, PositionSide, TradeAction

T0 = 1_700_000_040_000


def trade(i: int) -> PaperTradeEvent:
    return PaperTradeEvent(f"t{i}", "ETHUSDT", TradeAction.OPEN, PositionSide.LONG, 0.5, 2000.0, 1000.0, 74.0,
                           "confluence 74", T0 + i, 0.0, False)


def start(tmp_path: Path, **kw: Any) -> tuple[Any, Any, str]:
    svc, bus = delivery(tmp_path, DeliveryView(), relay={"port": 0}, **kw)
    svc.start()
    return svc, bus, f"ws://127.0.0.1:{svc.relay_port}"


def outbox_keys(tmp_path: Path, after_seq: int = 0) -> dict[int, str]:
    with closing(sqlite3.connect(tmp_path / "virtuoso.db")) as db:
        return dict(db.execute("SELECT seq, key FROM outbox WHERE seq > ? AND kind IN ('alert', 'trade') ORDER BY seq",
                               (after_seq,)).fetchall())


async def recv_until_quiet(ws: Any, quiet_s: float = 0.8) -> list[dict[str, Any]]:
    out = []
    while True:
        try:
            out.append(json.loads(await asyncio.wait_for(ws.recv(), quiet_s)))
        except asyncio.TimeoutError:
            return out


def data_messages(msgs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in msgs if m["channel"] in ("alerts", "trade_alerts")]


def test_a_client_that_reconnects_with_since_gets_each_missed_alert_and_trade_exactly_once(tmp_path: Path) -> None:
    svc, bus, url = start(tmp_path)
    try:
        async def go() -> None:
            async with connect(url) as ws:
                await ws.send(json.dumps({"op": "subscribe", "channels": ["alerts", "trade_alerts"]}))
                await ws.recv()
                await asyncio.to_thread(bus.publish_alerts, [line(start_ms=T0)])
                seen = data_messages(await recv_until_quiet(ws))
                assert len(seen) == 1
            disconnected_ms = int(time.time() * 1000) + 1
            await asyncio.sleep(0.05)
            missed = event_lines(start_ms=T0 + 600_000) + [line(start_ms=T0 + 1_200_000, symbol="BTCUSDT")]
            for ln in missed:
                await asyncio.to_thread(bus.publish_alerts, [ln])
            await asyncio.to_thread(bus.publish_trade, trade(1))
            assert await asyncio.to_thread(wait_for, lambda: svc.health()["relay"]["backlog"] == 0)
            async with connect(url) as ws:
                await ws.send(json.dumps({"op": "subscribe", "channels": ["alerts", "trade_alerts"],
                                          "since": disconnected_ms}))
                reply = json.loads(await ws.recv())
                assert reply["type"] == "subscribed" and reply["data"]["replayed"] == len(missed) + 1
                replayed = data_messages(await recv_until_quiet(ws))
                live = [line(start_ms=T0 + 1_800_000, symbol="XRPUSDT")]
                await asyncio.to_thread(bus.publish_alerts, live)
                after = data_messages(await recv_until_quiet(ws))
            keys = [m["data"]["id"] + ":" + m["data"]["change"] + ":" + m["data"]["severity"]
                    for m in replayed if m["channel"] == "alerts"]
            assert keys == [f"{a.id}:{a.change.value}:{a.severity.value}" for a in missed]  # each once, in order
            assert [m["type"] for m in replayed if m["channel"] == "trade_alerts"] == ["trade_open"]
            assert [m["data"]["id"] for m in after] == [live[0].id]
            seqs = [m["seq"] for m in replayed + after]
            assert seqs == sorted(set(seqs))  # no duplicate, in order
        asyncio.run(go())
    finally:
        svc.stop()


def test_no_gap_and_no_duplicate_at_the_seam_while_alerts_keep_coming(tmp_path: Path) -> None:
    svc, bus, url = start(tmp_path)
    stop = threading.Event()

    def flood() -> None:
        i = 0
        while not stop.is_set():
            bus.publish_alerts([line(start_ms=T0 + i * 1000, symbol="SOLUSDT")])
            i += 1
            time.sleep(0.002)
    try:
        pusher = threading.Thread(target=flood, daemon=True)
        pusher.start()
        assert wait_for(lambda: svc.health()["relay"]["sent"] > 50)

        async def go() -> list[dict[str, Any]]:
            async with connect(url) as ws:  # resumes from the very start while the flood goes on
                await ws.send(json.dumps({"op": "subscribe", "channels": ["alerts"], "after_seq": 0}))
                got = []
                deadline = time.monotonic() + 1.0
                while time.monotonic() < deadline:
                    got.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
                stop.set()
                got += await recv_until_quiet(ws)
                return got
        msgs = asyncio.run(go())
        pusher.join(5)
        assert wait_for(lambda: svc.health()["relay"]["backlog"] == 0)
        seqs = [m["seq"] for m in data_messages(msgs)]
        expected = sorted(outbox_keys(tmp_path))
        assert seqs == expected[: len(seqs)] and len(seqs) >= len(expected) - 5  # every row once, none twice
        reply = next(m for m in msgs if m["type"] == "subscribed")
        assert 0 < reply["data"]["replayed"] < len(seqs)  # part came from the store, the rest live
    finally:
        stop.set()
        svc.stop()


def test_resuming_after_an_event_id_or_a_seq_and_history_only_on_request(tmp_path: Path) -> None:
    live_from = T0 + 3_600_000
    svc, bus, url = start(tmp_path, live_from_ms=lambda: live_from)
    try:
        async def go() -> None:
            async with connect(url) as plain:
                await plain.send(json.dumps({"op": "subscribe", "channels": ["alerts"]}))
                await plain.recv()
                first = line(start_ms=live_from + 1_000)
                warm = line(start_ms=T0, symbol="BTCUSDT")  # raised on warm-up history
                later = line(start_ms=live_from + 2_000, symbol="ETHUSDT")
                for a in (first, warm, later):
                    await asyncio.to_thread(bus.publish_alerts, [a])
                live = data_messages(await recv_until_quiet(plain))
                assert [m["data"]["id"] for m in live] == [first.id, later.id]  # history is not broadcast
            async with connect(url) as ws:
                await ws.send(json.dumps({"op": "subscribe", "channels": ["alerts"], "since": first.id}))
                msgs = data_messages(await recv_until_quiet(ws))
                assert [m["data"]["id"] for m in msgs] == [warm.id, later.id]
                assert msgs[0].get("history") is True and "history" not in msgs[1]
            async with connect(url) as ws:
                await ws.send(json.dumps({"op": "subscribe", "channels": ["alerts"], "after_seq": live[0]["seq"]}))
                assert [m["data"]["id"] for m in data_messages(await recv_until_quiet(ws))] == [warm.id, later.id]
            async with connect(url) as ws:
                await ws.send(json.dumps({"op": "subscribe", "channels": ["alerts"], "since": "0000000000000000"}))
                err = json.loads(await ws.recv())
                assert err["type"] == "error" and err["data"]["code"] == "unknown_event"
                await ws.send(json.dumps({"op": "subscribe", "channels": ["alerts"], "since": True}))
                assert json.loads(await ws.recv())["data"]["code"] == "bad_request"
        asyncio.run(go())
    finally:
        svc.stop()
