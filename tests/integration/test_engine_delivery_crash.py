"""The whole engine killed with SIGKILL mid-run, Discord faulty: after a restart every alert arrives.

`virtuoso run` replays a simulated stream with planted episodes, so it raises alerts quickly;
the Discord receiver answers with random 500s, 429s and dropped connections and a tight
rate-limit bucket. The engine is killed while Discord is still behind, then started again on the
same data directory. Every alert in the outbox must reach the receiver; a key may arrive twice
only if it was in flight at the kill (not yet recorded as sent), as docs/delivery.md says.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest

from tests.discord_receiver import DiscordReceiver
from tests.integration.test_discord_sink import wait_for

pytestmark = pytest.mark.slow

SYMBOLS = "BTCUSDT,ETHUSDT,SOLUSDT"
FOOTER_KEY = re.compile(r"id ([0-9a-f]+) · (\w+)")


def _keys(r: DiscordReceiver) -> list[str]:
    """Outbox keys (``id:severity``) of the alert messages the receiver accepted, in order."""
    out = []
    for p in r.payloads():
        m = FOOTER_KEY.search(p["embeds"][-1]["footer"]["text"])
        if m:
            out.append(f"{m.group(1)}:{m.group(2)}")
    return out


def _engine(env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "virtuoso.app.cli", "run"], env=env, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _outbox(db: Path) -> tuple[set[str], set[str]]:
    """(every alert key in the outbox, keys Discord recorded as sent); empty before the engine made them."""
    if not db.exists():
        return set(), set()
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            keys = {k for (k,) in conn.execute("SELECT key FROM outbox WHERE kind = 'alert'")}
            sent = {k for (k,) in conn.execute("SELECT key FROM deliveries WHERE sink = 'discord' AND state = 'sent'")}
    except sqlite3.OperationalError:  # tables not created yet
        return set(), set()
    return keys, sent


def _replay_finished(data: Path) -> bool:
    try:
        return bool(json.loads((data / "health.json").read_text())["source"].get("finished"))
    except (OSError, ValueError, KeyError):
        return False


def test_engine_killed_mid_run_with_a_faulty_discord_delivers_every_alert_after_restart(tmp_path: Path) -> None:
    stream = tmp_path / "stream.jsonl"
    subprocess.run([sys.executable, "-m", "virtuoso.app.cli", "simulate", "--hours", "3", "--out", str(stream),
                    "--seed", "11", "--symbols", SYMBOLS, "--episodes-per-hour", "2"],
                   check=True, capture_output=True, cwd=tmp_path)
    data = tmp_path / "data"
    db = data / "virtuoso.db"
    with DiscordReceiver(fault_rate=0.2, fault_retry_after_s=0.05, bucket_limit=2, bucket_reset_s=0.5) as r:
        env = {**os.environ, "VIRTUOSO_DATA_DIR": str(data), "VIRTUOSO_SOURCE": "replay",
               "VIRTUOSO_REPLAY__PATH": str(stream), "VIRTUOSO_SYMBOLS": SYMBOLS,
               "VIRTUOSO_DISCORD__WEBHOOK_URL": r.url, "VIRTUOSO_DISCORD__DIGEST_WINDOW_S": "0",
               "VIRTUOSO_RELAY__ENABLED": "false", "VIRTUOSO_TRADING__ENABLED": "false"}
        first = _engine(env, tmp_path)
        try:
            assert wait_for(lambda: len(_keys(r)) >= 5 and len(_outbox(db)[0]) >= 30, 120), "too few alerts"
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        before = _keys(r)
        keys, sent_at_kill = _outbox(db)
        assert len(keys) > len(set(before)), "the kill must leave Discord behind"

        second = _engine(env, tmp_path)
        try:
            # The replay runs again; its alerts have the same stable ids, so the outbox ignores
            # them, and the backlog left by the kill drains.
            def drained() -> bool:
                k, sent = _outbox(db)
                return _replay_finished(data) and k <= sent and set(_keys(r)) >= k
            assert wait_for(drained, 180), "the backlog did not drain after the restart"
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(60)
        final_keys, _ = _outbox(db)
        received = _keys(r)

    print(f"{len(final_keys)} alerts; {len(set(before))} delivered before the kill, {len(sent_at_kill)} recorded; "
          f"{len(received)} messages received")
    assert final_keys >= keys
    assert set(received) == final_keys  # every alert arrived, nothing else did
    dupes = {k for k, c in Counter(received).items() if c > 1}
    assert not dupes & sent_at_kill  # a key recorded as sent is never sent again
    assert dupes <= set(before) and len(dupes) <= 1  # only the message in flight at the kill
    assert any(status in (0, 429, 500) for _, status in r.responses), "faults must have been exercised"
