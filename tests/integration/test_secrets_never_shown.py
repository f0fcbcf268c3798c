"""Every secret set, DEBUG logging, every path that touches one: none of them shows anywhere.

The engine runs with a Discord webhook (the local Discord-compatible receiver), Telegram (the
local Bot API server), the generic webhook with its HMAC key, the relay with a token (a real
WebSocket client subscribes with it), InfluxDB with user, password and token (a real influxd) and
a dashboard password (signed in through AppTest). Then the captured logs (caplog and a log file
on the root logger, both at DEBUG), health.json, the PDF report's text and the rendered pages are
searched for every secret value.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import subprocess
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from websockets.asyncio.client import connect

from tests.discord_receiver import DiscordReceiver
from tests.integration.test_influx_engine import ListSource, T0_MS, _ticker, _trade
from tests.state_factories import alert
from tests.telegram_receiver import TelegramReceiver
from tests.webhook_receiver import WebhookReceiver
from virtuoso.app.commands.run import write_health
from virtuoso.app.engine import Engine
from virtuoso.app.logging_setup import configure_logging
from virtuoso.config import load_settings
from virtuoso.reports.export import export_pdf
from virtuoso.ui import keys

pytestmark = pytest.mark.influx

ROOT = Path(__file__).resolve().parents[2]
DISCORD_TOKEN = "dIsCoRd-ToKeN-5f1e9a"
TELEGRAM_TOKEN = "424242:TeLeGrAm-SeCrEt-77aa"
WEBHOOK_PATH_TOKEN = "wEbHoOk-PaTh-0c3d"
WEBHOOK_KEY = "hMaC-kEy-9b8a"
RELAY_TOKEN = "rElAy-ToKeN-4e4e"
INFLUX_PASSWORD = "iNfLuX-pAsS-1d2c"
INFLUX_TOKEN = "iNfLuX-tOkEn-8f7e"
DASHBOARD_PASSWORD = "dAsH-pAsS-6b5a"
SECRETS = [DISCORD_TOKEN, TELEGRAM_TOKEN, TELEGRAM_TOKEN.split(":", 1)[1], WEBHOOK_PATH_TOKEN, WEBHOOK_KEY,
           RELAY_TOKEN, INFLUX_PASSWORD, INFLUX_TOKEN, DASHBOARD_PASSWORD]


def leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


async def relay_client(port: int) -> list[dict]:
    """Subscribe with the token (frames logged by websockets at DEBUG) and read until the alert."""
    got: list[dict] = []
    async with connect(f"ws://127.0.0.1:{port}") as ws:
        await ws.send(json.dumps({"op": "subscribe", "channels": ["alerts"], "token": RELAY_TOKEN}))
        async with asyncio.timeout(30):
            while not any(m.get("channel") == "alerts" or m.get("type") == "alert" for m in got):
                got.append(json.loads(await ws.recv()))
    return got


def sign_in_and_render(engine: Engine) -> str:
    """The dashboard's sign-in with the password, then the Overview and Health pages; their elements."""
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    at.session_state[keys.VIEW] = engine
    at.run()
    at.text_input(key=keys.PASSWORD).input(DASHBOARD_PASSWORD)
    at.button[0].click().run()
    assert not at.exception and at.session_state[keys.AUTHED]
    shown = [rendered(at)]
    at.switch_page("pages/health.py").run()
    assert not at.exception
    shown.append(rendered(at))
    return "\n".join(shown)


def rendered(at: AppTest) -> str:
    """Every element's message as the browser would receive it (text, values, tables' bytes)."""
    out: list[str] = []

    def walk(node: object) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            out.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(out)


def test_no_secret_reaches_a_log_health_the_pdf_or_a_page(influx_server, tmp_path, caplog):
    db = f"secrets_{tmp_path.name[-12:].replace('-', '_')}"
    log_file = tmp_path / "virtuoso.log"
    file_handler = logging.FileHandler(log_file, encoding="utf-8")
    file_handler.setLevel(logging.DEBUG)
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    saved_level = root.level
    root.addHandler(file_handler)
    caplog.set_level(logging.DEBUG)
    with DiscordReceiver(webhooks=(f"5550001/{DISCORD_TOKEN}",)) as discord, TelegramReceiver(token=TELEGRAM_TOKEN) as telegram, \
            WebhookReceiver(secret=WEBHOOK_KEY, path=f"/hooks/{WEBHOOK_PATH_TOKEN}") as webhook:
        settings = load_settings({
            "VIRTUOSO_DATA_DIR": str(tmp_path / "data"), "VIRTUOSO_SYMBOLS": "BTCUSDT", "VIRTUOSO_LOG_LEVEL": "DEBUG",
            "VIRTUOSO_DISCORD__WEBHOOK_URL": discord.url,
            "VIRTUOSO_DISCORD__CHART": "false",
            "VIRTUOSO_TELEGRAM__BOT_TOKEN": TELEGRAM_TOKEN, "VIRTUOSO_TELEGRAM__CHAT_ID": telegram.chat_id,
            "VIRTUOSO_TELEGRAM__API_URL": telegram.api_url, "VIRTUOSO_TELEGRAM__CHART": "false",
            "VIRTUOSO_WEBHOOK__URL": webhook.url, "VIRTUOSO_WEBHOOK__SECRET": WEBHOOK_KEY,
            "VIRTUOSO_RELAY__PORT": "0", "VIRTUOSO_RELAY__TOKEN": RELAY_TOKEN,
            "VIRTUOSO_STORAGE__BACKEND": "influxdb", "VIRTUOSO_INFLUX__URL": influx_server.url,
            "VIRTUOSO_INFLUX__DATABASE": db, "VIRTUOSO_INFLUX__FLUSH_INTERVAL_S": "0.1",
            "VIRTUOSO_INFLUX__USERNAME": "virtuoso", "VIRTUOSO_INFLUX__PASSWORD": INFLUX_PASSWORD,
            "VIRTUOSO_INFLUX__TOKEN": INFLUX_TOKEN,
            "VIRTUOSO_DASHBOARD__PASSWORD": DASHBOARD_PASSWORD, "VIRTUOSO_TRADING__ENABLED": "false",
        }, env_file=None)
        configure_logging(settings.log_level, settings)
        root.setLevel(logging.DEBUG)  # basicConfig leaves pytest's handlers alone; the level is what counts
        msgs = [_ticker(T0_MS, "5000")] + [_trade(T0_MS + i * 1_000, i) for i in range(1, 200)]
        engine = Engine(settings, source=ListSource(msgs)).start()
        try:
            assert engine.wait_until(lambda e: e.health()["pipeline"].get("messages", 0) >= len(msgs), 30)
            assert engine.wait_until(lambda e: len(e.store.read_bars("BTCUSDT", 0, 2**53)) >= 3, 30)
            port = engine.delivery.relay_port
            client = asyncio.new_event_loop()
            try:
                reader = client.create_task(relay_client(port))
                client.run_until_complete(asyncio.sleep(0.5))  # subscribed before the alert goes out
                engine.bus.publish_alerts([alert(engine.clock.now_ms(), "BTCUSDT")])
                relayed = client.run_until_complete(reader)
            finally:
                client.close()
            assert relayed
            delivered = engine.wait_until(lambda e: discord.received and telegram.calls and webhook.received, 60)
            assert delivered, (len(discord.received), len(telegram.calls), len(webhook.received), engine.health()["sinks"])
            titles = [e["title"] for e in discord.payloads()[0]["embeds"]]
            assert titles == ["Market Overview", "Institutional Activity", "Trading Outlook"]
            assert engine.wait_until(lambda e: e.health()["storage"].get("state") == "up", 30)
            stored = influx_server.query('SELECT COUNT("close") FROM "bars_1m"', db)["results"][0]
            assert stored.get("series"), stored  # the InfluxDB write happened

            health_path = tmp_path / "data" / "health.json"
            write_health(health_path, engine.health())
            pdf = tmp_path / "report.pdf"
            export_pdf(engine, 1.0, None, pdf, now_ms=T0_MS + 200_000)
            pages = sign_in_and_render(engine)
        finally:
            engine.stop()
    root.removeHandler(file_handler)
    file_handler.close()
    root.setLevel(saved_level)

    if shutil.which("pdftotext"):
        pdf_text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    else:  # pragma: no cover - poppler-utils is installed where the suite runs
        pdf_text = pdf.read_bytes().decode("latin-1")
    assert "BTCUSDT" in pdf_text
    logs = caplog.text
    file_log = log_file.read_text(encoding="utf-8")
    # The logs did see each path: the request lines, the relay's frames, the InfluxDB writes.
    assert "HTTP Request: POST" in file_log and "/api/webhooks/5550" in file_log
    assert "/write?db=" in file_log
    assert '"op":"subscribe"' in file_log.replace(" ", "")
    assert leaks(logs) == []
    assert leaks(file_log) == []
    assert leaks(health_path.read_text(encoding="utf-8")) == []
    assert leaks(pdf_text) == []
    assert "Overview" in pages and "Health" in pages and "Source and connection" in pages
    assert leaks(pages) == []
