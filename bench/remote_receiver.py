"""The Discord-compatible receiver in its own process, for benchmarks: the real Discord is not in our
process, and parsing a chart upload (multipart, 90 KB) in-process would take the GIL from the very
path being measured. Arrival times are ``time.perf_counter()`` (CLOCK_MONOTONIC on Linux, the same
clock in every process), so they compare with the benchmark's own.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection
from typing import Any


def _serve(conn: Connection) -> None:
    from tests.discord_receiver import DiscordReceiver

    with DiscordReceiver() as r:
        conn.send(r.url)
        while True:
            cmd = conn.recv()
            if cmd == "stop":
                return
            if cmd == "records":
                conn.send([(x.t, x.method, x.message_id, x.payload, bool(x.files)) for x in r.of("POST") + r.of("PATCH")])
            elif cmd == "counts":
                conn.send((len(r.of("POST")), sum(1 for x in r.of("PATCH") if x.files), len(r.rejected)))


class RemoteDiscordReceiver:
    """``with RemoteDiscordReceiver() as r:`` then ``r.url``, ``r.counts()``, ``r.records()``."""

    def __enter__(self) -> "RemoteDiscordReceiver":
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child,), daemon=True)
        self._proc.start()
        self.url: str = self._conn.recv()
        return self

    def counts(self) -> tuple[int, int, int]:
        """(posts, edits carrying a file, rejected requests)."""
        self._conn.send("counts")
        return self._conn.recv()

    def records(self) -> list[tuple[float, str, str, dict[str, Any], bool]]:
        """(arrival, method, message id, payload, has files) of every accepted post and edit."""
        self._conn.send("records")
        return self._conn.recv()

    def __exit__(self, *exc: object) -> None:
        self._conn.send("stop")
        self._proc.join(10)
