"""SIGKILL between an event's post and its edit: after a restart the event's message is edited, never
posted again, and every line reaches Discord (a real subprocess, a real Discord-compatible server).

The child runs the delivery service. It publishes the first line of each of N events and Discord
accepts N posts; then the receiver holds every edit unanswered, the child publishes the events'
later lines and is killed with SIGKILL while its first edit hangs. A second child starts on the same
data directory: it must edit the messages it already posted (one POST per event id, ever), and each
message must end showing its event's last line.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import IO

import pytest

from tests.delivery_factories import event_lines, wait_for
from tests.discord_receiver import DiscordReceiver

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
N = 6

CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from tests.delivery_factories import DeliveryView, delivery, event_lines
    url, data_dir, n = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    svc, bus = delivery(data_dir, DeliveryView(), discord={"webhook_url": url, "digest_window_s": 0,
                                                           "repost_on_high": False, "chart": False})
    svc.start()
    events = [event_lines(start_ms=1_700_000_040_000 + i * 600_000, symbol="SOLUSDT") for i in range(n)]
    print("ready", flush=True)
    for cmd in sys.stdin:
        if cmd.strip() == "new":
            bus.publish_alerts([ev[0] for ev in events])
        elif cmd.strip() == "later":
            for step in (1, 2, 3):
                bus.publish_alerts([ev[step] for ev in events])
        print("published", cmd.strip(), flush=True)
    while True:
        time.sleep(1)
""")


def _child(url: str, data_dir: Path, n: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", CHILD, url, str(data_dir), str(n)], cwd=ROOT, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def _say(p: subprocess.Popen[str], cmd: str) -> None:
    stdin: IO[str] | None = p.stdin
    stdout: IO[str] | None = p.stdout
    assert stdin is not None and stdout is not None
    stdin.write(cmd + "\n")
    stdin.flush()
    assert stdout.readline().strip() == f"published {cmd}"


def _kill(p: subprocess.Popen[str]) -> None:
    p.send_signal(signal.SIGKILL)
    p.wait(10)
    for f in (p.stdin, p.stdout):
        if f is not None:
            f.close()


def _undone(db: Path) -> int:
    """Alert lines Discord has not recorded as sent or folded."""
    with closing(sqlite3.connect(db)) as conn:
        return int(conn.execute(
            "SELECT COUNT(*) FROM outbox o LEFT JOIN deliveries d ON d.sink = 'discord' AND d.key = o.key "
            "WHERE o.kind = 'alert' AND (d.state IS NULL OR d.state NOT IN ('sent', 'folded'))").fetchone()[0])


def _event_id(payload: dict) -> str:
    return payload["embeds"][-1]["footer"]["text"].split("event id ")[1].split(" ")[0]


def test_sigkill_between_the_post_and_the_edit_loses_nothing_and_posts_nothing_twice(tmp_path: Path) -> None:
    events = [event_lines(start_ms=1_700_000_040_000 + i * 600_000, symbol="SOLUSDT") for i in range(N)]
    with DiscordReceiver() as r:
        first = _child(r.url, tmp_path, N)
        try:
            assert first.stdout is not None and first.stdout.readline().strip() == "ready"
            _say(first, "new")
            assert wait_for(lambda: len(r.of("POST")) == N, 60), "every event is posted first"
            r.hold("PATCH")
            _say(first, "later")
            assert wait_for(lambda: r.holding >= 1, 60), "the child is in the middle of an edit"
        finally:
            _kill(first)
        posts_before = len(r.of("POST"))
        r.release()  # the edit Discord had received is applied, as Discord would; its answer is lost
        second = _child(r.url, tmp_path, N)
        try:
            assert second.stdout is not None and second.stdout.readline().strip() == "ready"

            def settled() -> bool:
                shown = all("ended" in r.messages[p.message_id].embeds[0]["description"] for p in r.of("POST"))
                return shown and _undone(tmp_path / "virtuoso.db") == 0
            assert wait_for(settled, 90), "every message ends showing its event's last line, recorded"
        finally:
            _kill(second)

    posts = r.of("POST")
    by_event = Counter(_event_id(p.payload) for p in posts)
    assert posts_before == N and len(posts) == N  # 0 duplicated posts across the kill
    assert set(by_event) == {ev[0].id for ev in events} and set(by_event.values()) == {1}  # 0 lost events
    posted = {p.message_id for p in posts}
    assert {e.message_id for e in r.of("PATCH")} == posted  # every event's later lines are edits of its message
    for p in posts:
        msg = r.messages[p.message_id]
        assert "CRITICAL" in msg.embeds[0]["description"] and "ended" in msg.embeds[0]["description"]
    assert r.rejected == []
    with closing(sqlite3.connect(tmp_path / "virtuoso.db")) as db:
        lines = {k for (k,) in db.execute("SELECT key FROM outbox WHERE kind = 'alert'")}
        states = dict(db.execute("SELECT key, state FROM deliveries WHERE sink = 'discord'").fetchall())
    assert len(lines) == 4 * N and {states.get(k) for k in lines} <= {"sent", "folded"}  # 0 lost lines
