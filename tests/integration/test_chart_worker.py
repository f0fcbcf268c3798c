"""The chart worker process never outlives the engine: killed with SIGKILL, its worker exits too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.delivery_factories import wait_for

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent("""
    import time
    from virtuoso.sinks.charts import ChartService
    svc = ChartService(lambda s, a, b: (), 90).start()
    svc._executor.submit(int, 1).result(60)  # the worker is up
    print(list(svc._executor._processes)[0], flush=True)
    time.sleep(600)
""")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting for its reaper is gone for our purpose
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_the_worker_exits_when_its_parent_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", CHILD], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert parent.stdout is not None
    worker = int(parent.stdout.readline())
    assert _alive(worker)
    parent.send_signal(signal.SIGKILL)
    parent.wait(10)
    parent.stdout.close()
    assert wait_for(lambda: not _alive(worker), 30), "the worker outlived its engine"
    time.sleep(0.1)
