"""Alerts raised while the simulator replays its warm-up history are recorded as history: in the store
and the outbox, measured, replayed to relay clients that ask with since, never posted to Discord."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tests.delivery_factories import wait_for
from tests.discord_receiver import DiscordReceiver
from virtuoso.app.engine import Engine
from virtuoso.config import load_settings

pytestmark = pytest.mark.slow


def test_warm_up_alerts_are_history_and_never_reach_discord(tmp_path: Path) -> None:
    with DiscordReceiver() as r:
        settings = load_settings({
            "VIRTUOSO_DATA_DIR": str(tmp_path), "VIRTUOSO_SOURCE": "simulator", "VIRTUOSO_SYMBOLS": "BTCUSDT,ETHUSDT,SOLUSDT",
            "VIRTUOSO_SIMULATOR__EPISODES_PER_HOUR": "30", "VIRTUOSO_SIMULATOR__SEED": "3",
            "VIRTUOSO_DISCORD__WEBHOOK_URL": r.url, "VIRTUOSO_DISCORD__CHART": "false",
            "VIRTUOSO_RELAY__ENABLED": "false", "VIRTUOSO_TRADING__ENABLED": "false"}, env_file=None)
        engine = Engine(settings).start()
        try:
            live_from = engine.live_from_ms()
            assert live_from is not None and live_from > 0
            assert engine.wait_until(lambda e: e.health()["source"].get("phase") == "live", 180)
            assert wait_for(lambda: engine.health()["sinks"]["outbox"]["history_lines"] > 0, 30)
            with closing(sqlite3.connect(tmp_path / "virtuoso.db")) as db:
                rows = db.execute("SELECT event_id, history, payload FROM outbox WHERE kind = 'alert'").fetchall()
                outcome_rows = {e for (e,) in db.execute("SELECT event_id FROM alert_outcomes WHERE history = 1")}
            history = {e for e, h, _ in rows if h}
            assert history and history <= outcome_rows  # recorded, and measured like any event
            assert all(json.loads(p)["ts_event_ms"] < live_from for _, h, p in rows if h)
            assert wait_for(lambda: engine.health()["sinks"]["discord"]["backlog"] == 0, 30)
            posted = {p["embeds"][-1]["footer"]["text"].split("event id ")[1].split(" ")[0] for p in r.payloads()}
            only_history = history - {e for e, h, _ in rows if not h}
            assert not posted & only_history
            assert engine.health()["sinks"]["discord"]["history"] >= len(only_history)
            stored = {a.id for a in engine.alerts()}
            assert only_history <= stored  # still in the store (history)
        finally:
            engine.stop()
