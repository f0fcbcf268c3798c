"""Start ``streamlit run dashboard.py`` on a free port and drive Debian's chromium with Playwright.

No browser download: Playwright launches ``/usr/bin/chromium``. Under ``CI=true`` a missing
chromium (or Playwright) fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator, Mapping

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def need(condition: bool, why: str) -> None:
    """Skip locally, fail under CI=true: CI must never silently skip the browser tests."""
    if condition:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {why}")
    pytest.skip(why)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(data_dir: Path, extra: Mapping[str, str] = ()) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("VIRTUOSO_")}
    env.update({"VIRTUOSO_DATA_DIR": str(data_dir), "VIRTUOSO_SOURCE": "simulator", "VIRTUOSO_RELAY__PORT": "0",
                **dict(extra)})
    return env


def start_server(data_dir: Path, log_path: Path, extra_env: Mapping[str, str] = (), timeout_s: float = 90) -> tuple[subprocess.Popen, str]:
    """``streamlit run dashboard.py`` on a free loopback port; returns (process, base URL) once healthy."""
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", "dashboard.py", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    log = open(log_path, "wb")  # noqa: SIM115 - closed with the process in stop_server
    proc = subprocess.Popen(cmd, cwd=ROOT, env=server_env(data_dir, extra_env), stdout=log, stderr=subprocess.STDOUT)
    proc.log_file = log  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            stop_server(proc)
            raise RuntimeError(f"streamlit exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.3)
    stop_server(proc)
    raise RuntimeError(f"streamlit did not become healthy in {timeout_s} s: {log_path.read_text()[-2000:]}")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    log = getattr(proc, "log_file", None)
    if log is not None:
        log.close()


def launch_chromium() -> Iterator:
    """A Playwright browser on Debian's chromium (skip locally / fail on CI when missing)."""
    need(Path(CHROMIUM).exists() or shutil.which("chromium") is not None, f"{CHROMIUM} is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "the playwright package is not installed")
        raise
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
                                     args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
