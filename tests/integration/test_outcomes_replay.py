"""Outcomes on a replayed stream with known paths after known alerts, end to end: the real engine
replays a Bybit stream (parser, market state, bars), two known alerts are published, the outcome
tracker measures them from the engine's bars, the relay publishes the outcome updates, and the PDF
report holds the Alert outcomes section with the measured sentence.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from pypdf import PdfReader
from websockets.asyncio.client import connect

from tests.delivery_factories import (
    ALERT_MINUTE, PATH_MINUTES, USUAL_MOVE_PCT, known_path, line, path_messages, trend_path, wait_for,
)
from virtuoso.app.engine import Engine
from virtuoso.config import load_settings
from virtuoso.domain.alerts import AlertKind, Severity
from virtuoso.reports.export import export_pdf

pytestmark = pytest.mark.slow


def test_outcomes_are_measured_from_a_replayed_stream_published_on_the_relay_and_in_the_pdf(tmp_path: Path) -> None:
    now = int(time.time() * 1000)
    start = now - now % 60_000 - (PATH_MINUTES + 10) * 60_000
    closes, oi, funding = known_path()
    msgs = path_messages("SOLUSDT", start, closes, oi, funding)
    msgs += path_messages("BTCUSDT", start, trend_path(), [5e4] * PATH_MINUTES, [0.0001] * PATH_MINUTES)
    msgs.sort(key=lambda m: m["ts"])
    stream = tmp_path / "stream.jsonl"
    stream.write_text("".join(json.dumps(m) + "\n" for m in msgs), encoding="utf-8")
    settings = load_settings({
        "VIRTUOSO_DATA_DIR": str(tmp_path / "data"), "VIRTUOSO_SOURCE": "replay", "VIRTUOSO_REPLAY__PATH": str(stream),
        "VIRTUOSO_SYMBOLS": "SOLUSDT,BTCUSDT", "VIRTUOSO_RELAY__PORT": "0", "VIRTUOSO_TRADING__ENABLED": "false",
        "VIRTUOSO_OUTCOMES__INTERVAL_S": "0.2"}, env_file=None)
    engine = Engine(settings).start()
    try:
        assert wait_for(lambda: engine.health()["source"].get("finished") and engine.health()["pipeline"]["queue_depth"] == 0, 120)
        ts = start + ALERT_MINUTE * 60_000 + 30_000
        pump = line(start_ms=ts, symbol="SOLUSDT", kind=AlertKind.PUMP_AND_DUMP, severity=Severity.HIGH, direction=1)
        short = line(start_ms=ts, symbol="BTCUSDT", kind=AlertKind.PRICE_MOVE, severity=Severity.WATCH, direction=-1)
        engine.bus.publish_alerts([pump, short])

        def measured() -> dict:
            return {o.event_id: o for o in engine.alert_outcomes() if o.event_id in (pump.id, short.id) and o.stage == "4h"}
        assert wait_for(lambda: len(measured()) == 2, 60)
        got = measured()
        p, s = got[pump.id], got[short.id]
        assert p.ret_5m_pct == pytest.approx(2.0, abs=1e-4) and p.ret_1h_pct == pytest.approx(-1.0, abs=1e-4)
        assert p.ret_4h_pct == pytest.approx(-3.0, abs=1e-4)
        assert p.move_for_1h_pct == pytest.approx(5.0, abs=1e-4) and p.move_against_1h_pct == pytest.approx(1.5, abs=1e-4)
        assert p.usual_move_1h_pct == pytest.approx(USUAL_MOVE_PCT, rel=1e-3)
        assert p.hit is True and p.reversed_1h is True and p.oi_reverted_1h is True and p.funding_reverted_1h is False
        assert s.ret_1h_pct == pytest.approx(USUAL_MOVE_PCT, rel=1e-3) and s.move_for_1h_pct == pytest.approx(0.0, abs=1e-6)
        assert s.hit is False and s.reversed_1h is True

        async def outcome_messages() -> list[dict]:
            async with connect(f"ws://127.0.0.1:{engine.delivery.relay_port}") as ws:
                await ws.send(json.dumps({"op": "subscribe", "channels": ["alerts"], "after_seq": 0}))
                out = []
                while True:
                    try:
                        m = json.loads(await asyncio.wait_for(ws.recv(), 2.0))
                    except asyncio.TimeoutError:
                        return out
                    if m["type"] == "outcome":
                        out.append(m)
        updates = asyncio.run(outcome_messages())
        mine = {m["data"]["event_id"]: m for m in updates if m["data"]["event_id"] in (pump.id, short.id)}
        assert set(mine) == {pump.id, short.id} and mine[pump.id]["data"]["stage"] == "4h"
        assert mine[pump.id]["data"]["hit"] is True and "seq" in mine[pump.id]

        result = export_pdf(engine, 8, None, tmp_path / "report.pdf", now_ms=start + PATH_MINUTES * 60_000)
        text = " ".join((pg.extract_text() or "") for pg in PdfReader(result.path).pages)
        assert "Alert outcomes" in text
        assert "Past pump and dump events on SOLUSDT: 1 of 1 reversed within 1 h" in " ".join(text.split())
    finally:
        engine.stop()
