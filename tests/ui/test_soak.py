"""Soak: the real engine under ``streamlit run`` with one browser tab open on the Overview.

The first version leaked one SQLite connection (two file descriptors) per second with a single
tab open, because every Streamlit rerun runs on a new thread and the store kept a connection per
thread. Minute-long tests never saw it. This test keeps a tab on the live Overview for at least
three minutes, on the simulator at a speed-up (bars close ten times faster), and samples the
server process's open files, threads and resident memory from /proc: all must stay flat after
warm-up. Samples go to artifacts/soak.csv.
"""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import pytest

from tests.ui.browser_harness import ARTIFACTS, launch_chromium, need, start_server, stop_server
from tests.ui_factories import SYMBOLS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SOAK_S = float(os.environ.get("VIRTUOSO_SOAK_S", "200"))  # at least 3 minutes, whatever is set
WARMUP_S = 45.0  # engine started, first page drawn, caches and thread pools at their working size
SAMPLE_S = 10.0
MAX_FD_GROWTH = 3
MAX_THREAD_GROWTH = 3
MAX_RSS_GROWTH_MB = 60.0


def process_sample(pid: int, db: Path) -> dict[str, float]:
    fds = os.listdir(f"/proc/{pid}/fd")
    db_fds = 0
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(str(db)):
                db_fds += 1
        except OSError:
            continue
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {"t_s": time.monotonic(), "fds": len(fds), "db_fds": db_fds, "threads": int(status["Threads"]),
            "rss_mb": int(status["VmRSS"].split()[0]) / 1024}


def test_an_overview_tab_open_for_three_minutes_leaves_files_threads_and_memory_flat(tmp_path):
    need(Path("/proc/self/status").is_file(), "needs /proc to sample the server")
    soak_s = max(SOAK_S, 180.0)
    data_dir = tmp_path / "soak"
    proc, url = start_server(data_dir, tmp_path / "streamlit.log",
                             {"VIRTUOSO_SYMBOLS": ",".join(SYMBOLS), "VIRTUOSO_SIMULATOR__SPEED": "10"})
    samples: list[dict[str, float]] = []
    try:
        for browser in launch_chromium():
            page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
            page.set_default_timeout(90_000)
            page.goto(url + "/")
            page.get_by_role("heading", name="Overview").first.wait_for()
            page.locator('[data-testid="stDataFrame"]').first.wait_for()
            start = time.monotonic()
            while time.monotonic() - start < soak_s:
                page.wait_for_timeout(SAMPLE_S * 1000)
                assert proc.poll() is None, "the server died"
                samples.append({**process_sample(proc.pid, data_dir / "virtuoso.db"),
                                "elapsed_s": time.monotonic() - start})
            assert page.locator('[data-testid="stException"]').count() == 0
            newest = page.locator('[data-testid="stMetric"]').filter(has_text="Newest tick").inner_text()
            assert "ago" in newest  # the live panel still refreshes at the end
    finally:
        stop_server(proc)
        ARTIFACTS.mkdir(exist_ok=True)
        if samples:
            with open(ARTIFACTS / "soak.csv", "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=list(samples[0]))
                w.writeheader()
                w.writerows(samples)

    steady = [s for s in samples if s["elapsed_s"] >= WARMUP_S]
    assert steady and steady[-1]["elapsed_s"] >= 180.0 - SAMPLE_S
    base = steady[0]
    worst = {k: max(s[k] for s in steady) - base[k] for k in ("fds", "db_fds", "threads", "rss_mb")}
    assert worst["fds"] <= MAX_FD_GROWTH, samples
    assert worst["db_fds"] <= MAX_FD_GROWTH, samples
    assert worst["threads"] <= MAX_THREAD_GROWTH, samples
    assert worst["rss_mb"] <= MAX_RSS_GROWTH_MB, samples
