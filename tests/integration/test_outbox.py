"""The durable outbox: keys, per-sink records, isolation of a failing sink, and SIGKILL mid-backlog."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from tests.discord_receiver import DiscordReceiver
from tests.integration.test_discord_sink import View, wait_for
from tests.state_factories import alert
from virtuoso.alerting.bus import AlertBus
from tests.delivery_factories import event_lines
from virtuoso.alerting.outbox import Outbox, alert_item, line_key
from virtuoso.config import Settings
from virtuoso.domain.alerts import Severity
from virtuoso.domain.clock import ManualClock, SystemClock
from virtuoso.app.delivery_build import build_sinks
from virtuoso.sinks.delivery import DeliveryService

ROOT = Path(__file__).resolve().parents[2]


def test_a_repeated_line_is_ignored_and_every_change_of_an_event_is_a_row(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "v.db", ManualClock())
    ob.register_sink("s")
    a = alert(severity=Severity.WATCH)
    assert len(ob.add([alert_item(a, 1)])) == 1
    assert ob.add([alert_item(a, 2)]) == []  # the same line again (a replay after a restart)
    higher = alert(severity=Severity.HIGH)
    assert higher.id == a.id and len(ob.add([alert_item(higher, 3)])) == 1
    watch, high, dump, ended = event_lines()
    assert len(ob.add([alert_item(x, 4) for x in (watch, high, dump, ended)])) == 4  # dump and ended: both critical
    assert [i.key for i in ob.pending("s")][:2] == [line_key(a), line_key(higher)]
    assert {i.event_id for i in ob.pending("s")} == {a.id, watch.id}
    ob.mark("s", [line_key(a)], "sent")
    assert ob.pending("s")[0].key == line_key(higher) and ob.backlog("s") == 5


def test_a_sink_registered_later_starts_from_the_end_and_sinks_track_state_separately(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "v.db", ManualClock())
    ob.register_sink("a")
    ob.add([alert_item(alert(ts_ms=1), 1)])
    ob.register_sink("b")
    assert ob.pending("b") == [] and len(ob.pending("a")) == 1
    ob.add([alert_item(alert(ts_ms=2), 2)])
    ob.mark_retry("a", [i.key for i in ob.pending("a")], "boom")
    assert len(ob.pending("a")) == 2 and ob.pending("a")[0].attempts == 1
    assert len(ob.pending("b")) == 1


def test_a_failing_discord_does_not_hold_back_the_relay(tmp_path: Path) -> None:
    with DiscordReceiver() as r:
        r.inject("500", 10_000)
        s = Settings(_env_file=None, data_dir=tmp_path, discord={"webhook_url": r.url, "max_attempts": 2},
                     relay={"port": 0}, trading={"enabled": False})
        bus = AlertBus()
        svc = DeliveryService(s, bus, View(), tmp_path / "v.db", SystemClock(), build_sinks=build_sinks).start()
        try:
            async def go() -> dict[str, Any]:
                async with connect(f"ws://127.0.0.1:{svc.relay_port}") as ws:
                    await ws.send(json.dumps({"op": "subscribe", "channels": ["alerts"]}))
                    await ws.recv()
                    await asyncio.to_thread(bus.publish_alerts, [alert()])
                    return json.loads(await asyncio.wait_for(ws.recv(), 5.0))
            assert asyncio.run(go())["channel"] == "alerts"
            assert wait_for(lambda: svc.health()["discord"]["state"] in ("retrying", "retry-wait"))
            h = svc.health()
            assert h["discord"]["backlog"] == 1 and h["discord"]["sent"] == 0 and "500" in h["discord"]["last_error"]
            assert h["relay"]["sent"] == 1 and h["relay"]["backlog"] == 0
        finally:
            svc.stop()


CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from virtuoso.alerting.bus import AlertBus
    from virtuoso.config import Settings
    from virtuoso.domain.clock import SystemClock
    from virtuoso.app.delivery_build import build_sinks
    from virtuoso.sinks.delivery import DeliveryService
    from tests.integration.test_discord_sink import View
    from tests.state_factories import alert
    url, data_dir, n = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    s = Settings(_env_file=None, data_dir=data_dir, discord={"webhook_url": url, "digest_window_s": 0, "chart": False},
                 relay={"enabled": False}, trading={"enabled": False})
    bus = AlertBus()
    svc = DeliveryService(s, bus, View(), data_dir / "virtuoso.db", SystemClock(), build_sinks=build_sinks).start()
    for i in range(n):
        bus.publish_alerts([alert(ts_ms=1_700_000_000_000 + i * 1000)])
    print("published", flush=True)
    while True:
        time.sleep(1)
""")


def _child(url: str, data_dir: Path, n: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", CHILD, url, str(data_dir), str(n)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, text=True)


def _ids(r: DiscordReceiver) -> list[str]:
    out = []
    for p in r.payloads():
        footer = p["embeds"][-1]["footer"]["text"]
        out.append(footer.split(" id ")[1].split(" ")[0])
    return out


def test_sigkill_mid_backlog_with_faults_loses_nothing_and_resends_nothing_recorded(tmp_path: Path) -> None:
    n = 30
    expected = {alert(ts_ms=1_700_000_000_000 + i * 1000).id for i in range(n)}
    with DiscordReceiver(fault_rate=0.2, fault_retry_after_s=0.05, bucket_limit=8, bucket_reset_s=0.5) as r:
        first = _child(r.url, tmp_path, n)
        try:
            assert first.stdout is not None and first.stdout.readline().strip() == "published"
            assert wait_for(lambda: len(r.received) >= 8, 60)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            if first.stdout is not None:
                first.stdout.close()
        before = _ids(r)
        with sqlite3.connect(tmp_path / "virtuoso.db") as db:
            recorded = {k.split(":")[0] for (k,) in db.execute(
                "SELECT key FROM deliveries WHERE sink = 'discord' AND state = 'sent'")}
        assert len(before) < n, "the kill must happen mid-backlog"
        second = _child(r.url, tmp_path, 0)
        try:
            assert wait_for(lambda: set(_ids(r)) >= expected, 90)
            time.sleep(0.3)
        finally:
            second.send_signal(signal.SIGKILL)
            second.wait(10)
            if second.stdout is not None:
                second.stdout.close()
        ids = _ids(r)
        after = ids[len(before):]
        assert set(ids) == expected  # nothing lost
        assert not (set(after) & recorded)  # nothing already recorded is sent again
        dupes = {k for k, c in Counter(ids).items() if c > 1}
        assert dupes <= set(before) - recorded and len(dupes) <= 1  # only the one in flight at the kill
        assert [s for _, s in r.responses if s in (0, 429, 500)], "faults must have been exercised"
