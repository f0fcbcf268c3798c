"""A real ``influxd`` (Debian's InfluxDB 1.6) on free loopback ports with its data in a temp dir.

Tests import the ``influx_server`` fixture (session scope) or build an :class:`InfluxServer`
themselves when they need to kill it. Without the binary the tests skip, except under
``CI=true``, where they fail: CI installs the ``influxdb`` package and must run them.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Iterator, Mapping

import httpx
import pytest

INFLUXD = os.environ.get("VIRTUOSO_TEST_INFLUXD", "/usr/bin/influxd")

CONFIG = """\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{root}/meta"
  logging-enabled = false

[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
  trace-logging-enabled = false

[coordinator]
  log-queries-after = "0s"

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  log-enabled = false
  write-tracing = false
  pprof-enabled = false

[continuous_queries]
  enabled = false

[subscriber]
  enabled = false
"""


def influxd_path(candidate: str = INFLUXD, environ: Mapping[str, str] | None = None,
                 search_path: str | None = None) -> str:
    """The influxd binary, or skip (fail under CI=true) when it is missing."""
    env = os.environ if environ is None else environ
    path = candidate if os.path.isfile(candidate) else shutil.which("influxd", path=search_path)
    if not path:
        msg = f"influxd not found at {candidate} (apt-get install influxdb)"
        if env.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class InfluxServer:
    """One influxd process; :meth:`kill` and :meth:`start` again reuse the same ports and data."""

    def __init__(self, root: Path, binary: str) -> None:
        self.root = Path(root)
        self.binary = binary
        self.http_port = free_port()
        self.rpc_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.config = self.root / "influxdb.conf"
        self.config.write_text(CONFIG.format(root=self.root, rpc_port=self.rpc_port, http_port=self.http_port))
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = None

    def start(self, timeout_s: float = 30.0) -> "InfluxServer":
        self._log = open(self.root / "influxd.log", "ab")
        self.proc = subprocess.Popen([self.binary, "-config", str(self.config)], stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"influxd exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                if httpx.get(self.url + "/ping", timeout=1.0).status_code == 204:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"influxd did not answer /ping within {timeout_s}s: {self.log_tail()}")

    def log_tail(self, n: int = 2_000) -> str:
        p = self.root / "influxd.log"
        return p.read_text(errors="replace")[-n:] if p.exists() else ""

    def kill(self) -> None:
        """SIGKILL, as a crash would (no flush)."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self._close_log()

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM by PID, then SIGKILL if it does not exit."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def query(self, q: str, db: str | None = None) -> dict:
        """Run InfluxQL directly (``epoch=ms``); for assertions independent of the code under test."""
        params = {"q": q, "epoch": "ms"}
        if db:
            params["db"] = db
        resp = httpx.post(self.url + "/query", data=params, timeout=30.0)
        resp.raise_for_status()
        return resp.json()

    def create_database(self, name: str | None = None) -> str:
        """Create a fresh database (unique name unless given) and return its name."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        self.query(f'CREATE DATABASE "{name}"')
        return name


@pytest.fixture(scope="session")
def influx_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    """One influxd for the session; each test creates its own database."""
    binary = influxd_path()
    server = InfluxServer(tmp_path_factory.mktemp("influxd"), binary).start()
    try:
        yield server
    finally:
        server.stop()
