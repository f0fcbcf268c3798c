"""The WebSocket relay with real ``websockets`` clients on loopback, fed through the bus and the outbox."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.integration.test_paper_executor import snap
from tests.state_factories import alert
from virtuoso.alerting.bus import AlertBus
from virtuoso.app.view import SourceInfo
from virtuoso.config import RelaySettings, Settings, SettingsError
from virtuoso.domain.clock import SystemClock
from virtuoso.domain.trades import PaperTradeEvent, PositionSide, TradeAction
from virtuoso.app.delivery_build import build_sinks
from virtuoso.sinks.delivery import DeliveryService

T0 = 1_700_000_000_000


class View:
    def snapshots(self) -> dict[str, Any]:
        return {"BTCUSDT": snap()}

    def composite_scores(self) -> dict[str, float]:
        return {"BTCUSDT": 12.5}

    def source_info(self) -> SourceInfo:
        return SourceInfo("test", False, "test", 0)

    def bars_1m(self, symbol: str, minutes: int) -> list[Any]:
        return []


@pytest.fixture
def relay(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[DeliveryService, AlertBus, str]]:
    extra = getattr(request, "param", {})
    s = Settings(_env_file=None, data_dir=tmp_path, relay={"port": 0, **extra}, trading={"enabled": False})
    bus = AlertBus()
    svc = DeliveryService(s, bus, View(), tmp_path / "v.db", SystemClock(), build_sinks=build_sinks).start()
    try:
        yield svc, bus, f"ws://127.0.0.1:{svc.relay_port}"
    finally:
        svc.stop()


async def recv(ws: ClientConnection, timeout_s: float = 5.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout_s))


async def subscribe(ws: ClientConnection, *channels: str, token: str | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"op": "subscribe", "channels": list(channels)}
    if token is not None:
        msg["token"] = token
    await ws.send(json.dumps(msg))
    return await recv(ws)


def test_subscribe_receive_unsubscribe_and_ping(relay: tuple[DeliveryService, AlertBus, str]) -> None:
    svc, bus, url = relay

    async def go() -> None:
        async with connect(url) as ws:
            r = await subscribe(ws, "alerts", "trade_alerts")
            assert (r["channel"], r["type"], r["data"]["channels"]) == ("control", "subscribed", ["alerts", "trade_alerts"])
            a = alert()
            await asyncio.to_thread(bus.publish_alerts, [a])
            m = await recv(ws)
            assert (m["channel"], m["type"], m["data"]["id"]) == ("alerts", "alert", a.id)
            assert isinstance(m["ts_ms"], int)
            ev = PaperTradeEvent("tr1", "BTCUSDT", TradeAction.OPEN, PositionSide.LONG, 1, 100, 100, 80, "test", T0)
            await asyncio.to_thread(bus.publish_trade, ev)
            m = await recv(ws)
            assert (m["channel"], m["type"], m["data"]["id"]) == ("trade_alerts", "trade_open", "tr1")
            await ws.send(json.dumps({"op": "unsubscribe", "channels": ["alerts"]}))
            assert (await recv(ws))["data"]["channels"] == ["trade_alerts"]
            await asyncio.to_thread(bus.publish_alerts, [alert(ts_ms=T0 + 1)])
            await ws.send(json.dumps({"op": "ping", "id": 7}))
            m = await recv(ws)
            assert (m["type"], m["data"]["id"]) == ("pong", 7)  # no alert came before the pong
    asyncio.run(go())


def test_market_channel_sends_a_snapshot_per_symbol_with_the_composite_score(relay: tuple[DeliveryService, AlertBus, str]) -> None:
    async def go() -> None:
        async with connect(relay[2]) as ws:
            await subscribe(ws, "market")
            m = await recv(ws, 3.0)
            assert (m["channel"], m["type"], m["data"]["symbol"]) == ("market", "snapshot", "BTCUSDT")
            assert m["data"]["composite_score"] == 12.5 and m["data"]["last_price"] == 100.0
    asyncio.run(go())


def test_bad_frames_get_errors_and_the_connection_stays_open(relay: tuple[DeliveryService, AlertBus, str]) -> None:
    async def go() -> None:
        async with connect(relay[2]) as ws:
            for frame, code in [("{nope", "bad_json"), ('{"op":"dance"}', "unknown_op"), ("[1,2]", "bad_request"),
                                ('{"op":"subscribe","channels":["secrets"]}', "unknown_channel"),
                                ('{"op":"subscribe","channels":[]}', "bad_request")]:
                await ws.send(frame)
                m = await recv(ws)
                assert (m["channel"], m["type"], m["data"]["code"]) == ("control", "error", code)
            assert (await subscribe(ws, "alerts"))["type"] == "subscribed"
        assert relay[0].health()["relay"]["protocol_errors"] == 5
    asyncio.run(go())


@pytest.mark.parametrize("relay", [{"token": "s3cret"}], indirect=True)
def test_the_token_is_required_for_every_subscription(relay: tuple[DeliveryService, AlertBus, str]) -> None:
    async def go() -> None:
        async with connect(relay[2]) as ws:
            for token in (None, "wrong"):
                m = await subscribe(ws, "alerts", token=token)
                assert (m["type"], m["data"]["code"]) == ("error", "unauthorized")
            assert (await subscribe(ws, "alerts", token="s3cret"))["type"] == "subscribed"
            assert (await subscribe(ws, "market", token=None))["data"]["code"] == "unauthorized"
    asyncio.run(go())


@pytest.mark.parametrize("relay", [{"max_frame_bytes": 1024}], indirect=True)
def test_an_oversized_frame_is_refused(relay: tuple[DeliveryService, AlertBus, str]) -> None:
    async def go() -> None:
        async with connect(relay[2]) as ws:
            await ws.send(json.dumps({"op": "ping", "pad": "x" * 5000}))
            with pytest.raises(ConnectionClosed) as info:
                await recv(ws)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1009
    asyncio.run(go())


@pytest.mark.parametrize("relay", [{"max_clients": 2}], indirect=True)
def test_connections_beyond_max_clients_are_closed_with_a_reason(relay: tuple[DeliveryService, AlertBus, str]) -> None:
    async def go() -> None:
        async with connect(relay[2]) as a, connect(relay[2]) as b:
            await subscribe(a, "alerts")
            await subscribe(b, "alerts")
            async with connect(relay[2]) as c:
                with pytest.raises(ConnectionClosed) as info:
                    await recv(c)
                assert info.value.rcvd is not None and info.value.rcvd.code == 1013
                assert "max" in info.value.rcvd.reason or "full" in info.value.rcvd.reason
        assert relay[0].health()["relay"]["refused_full"] == 1
    asyncio.run(go())


@pytest.mark.parametrize("relay", [{"client_queue_max": 10}], indirect=True)
def test_a_client_that_stops_reading_is_dropped_while_a_fast_client_gets_everything(relay: tuple[DeliveryService, AlertBus, str]) -> None:
    svc, bus, url = relay
    n = 600
    big = "x" * 8000

    async def go() -> tuple[int, float, int | None]:
        async with connect(url, max_queue=1) as slow, connect(url) as fast:
            await subscribe(slow, "alerts")
            await subscribe(fast, "alerts")
            t0 = time.monotonic()

            def publish() -> None:
                for i in range(0, n, 50):
                    bus.publish_alerts([alert(ts_ms=T0 + j, pad=big) for j in range(i, i + 50)])
            pub = asyncio.create_task(asyncio.to_thread(publish))
            got = 0
            while got < n:
                m = await recv(fast, 20.0)
                got += m["channel"] == "alerts"
            await pub
            elapsed = time.monotonic() - t0
            code = None
            try:  # the slow client wakes up: it finds what was buffered, then the close
                while True:
                    await asyncio.wait_for(slow.recv(), 5.0)
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd is not None else None
            return got, elapsed, code

    got, elapsed, code = asyncio.run(go())
    assert got == n and elapsed < 20
    assert svc.health()["relay"]["dropped_slow"] == 1
    assert code in (1008, None)  # 1008 "slow consumer" unless the close frame itself could not be written


def test_two_hundred_clients_all_receive_every_alert(relay: tuple[DeliveryService, AlertBus, str]) -> None:
    svc, bus, url = relay
    alerts = [alert(ts_ms=T0 + i) for i in range(20)]

    async def client() -> list[str]:
        async with connect(url) as ws:
            await subscribe(ws, "alerts")
            ready.release()
            ids = []
            while len(ids) < len(alerts):
                ids.append((await recv(ws, 20.0))["data"]["id"])
            return ids

    async def go() -> list[list[str]]:
        tasks = [asyncio.create_task(client()) for _ in range(200)]
        for _ in range(200):
            await asyncio.wait_for(ready.acquire(), 20.0)
        await asyncio.to_thread(bus.publish_alerts, alerts)
        return await asyncio.gather(*tasks)

    ready = asyncio.Semaphore(0)
    results = asyncio.run(go())
    assert all(r == [a.id for a in alerts] for r in results)


def test_a_non_loopback_host_without_a_token_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="VIRTUOSO_RELAY__TOKEN"):
        Settings(_env_file=None, data_dir=tmp_path, relay={"host": "0.0.0.0"})
    unchecked = Settings.model_construct(**{**dict(Settings(_env_file=None, data_dir=tmp_path)),
                                            "relay": RelaySettings(host="0.0.0.0")})
    with pytest.raises(SettingsError, match="VIRTUOSO_RELAY__TOKEN"):
        DeliveryService(unchecked, AlertBus(), View(), tmp_path / "v.db", SystemClock(), build_sinks=build_sinks)
    ok = Settings(_env_file=None, data_dir=tmp_path, relay={"host": "0.0.0.0", "token": "t"})
    DeliveryService(ok, AlertBus(), View(), tmp_path / "v.db", SystemClock(), build_sinks=build_sinks)  # constructs; not started
