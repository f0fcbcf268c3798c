"""Engine.start builds in order, leaves nothing behind when it fails, and changes no process setting
unless asked (``virtuoso run`` asks)."""

from __future__ import annotations

import gc
import logging
import os
import sqlite3
import sys
import threading
from pathlib import Path

import pytest

from virtuoso.app.engine import Engine
from virtuoso.app.interpreter import GIL_SWITCH_INTERVAL_S
from virtuoso.config import load_settings


def _settings(data_dir: Path, **env: str):
    return load_settings({"VIRTUOSO_DATA_DIR": str(data_dir), "VIRTUOSO_SYMBOLS": "BTCUSDT",
                          "VIRTUOSO_SOURCE": "simulator", "VIRTUOSO_RELAY__ENABLED": "false", **env}, env_file=None)


def _open_files(path: Path) -> int:
    """File descriptors of this process open on ``path`` (a store or outbox connection left open)."""
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                n += 1
        except OSError:
            continue
    return n


def _break_the_outbox(db: Path) -> None:
    """A database whose ``outbox`` is a view: the store opens it, the delivery service cannot."""
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("CREATE VIEW outbox AS SELECT 1 AS seq")
    conn.close()


def _mend_the_outbox(db: Path) -> None:
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("DROP VIEW outbox")
    conn.close()


def test_five_failed_starts_leave_no_thread_handler_or_open_store_behind_and_a_retry_succeeds(tmp_path):
    db = tmp_path / "virtuoso.db"
    _break_the_outbox(db)
    engine = Engine(_settings(tmp_path))
    threads_before = {t.ident for t in threading.enumerate()}
    handlers_before = list(logging.getLogger("virtuoso").handlers)
    for _ in range(5):
        with pytest.raises(sqlite3.OperationalError):
            engine.start()
        assert not engine.running
    extra = [t.name for t in threading.enumerate() if t.ident not in threads_before and t.is_alive()]
    assert extra == []
    assert logging.getLogger("virtuoso").handlers == handlers_before
    assert _open_files(db) == 0
    assert engine.bus.health()["subscribers"] == []

    _mend_the_outbox(db)
    engine.start()
    try:
        assert engine.running and engine.health()["sinks"]["running"]
        assert engine.wait_until(lambda e: e.health()["pipeline"].get("messages", 0) > 0, 60)
        assert sorted(engine.bus.health()["subscribers"]) == ["delivery", "recent", "store"]  # once each
    finally:
        engine.stop()
    assert logging.getLogger("virtuoso").handlers == handlers_before


def test_a_start_that_fails_on_settings_builds_nothing(tmp_path):
    engine = Engine(_settings(tmp_path, VIRTUOSO_SOURCE="replay", VIRTUOSO_REPLAY__PATH=str(tmp_path / "missing.jsonl")))
    threads_before = {t.ident for t in threading.enumerate()}
    with pytest.raises(OSError):
        engine.start()
    assert [t for t in threading.enumerate() if t.ident not in threads_before and t.is_alive()] == []
    assert engine.store is None and not (tmp_path / "virtuoso.db").exists()


def test_start_with_defaults_changes_no_process_wide_interpreter_setting(tmp_path):
    switch_before, frozen_before = sys.getswitchinterval(), gc.get_freeze_count()
    engine = Engine(_settings(tmp_path)).start()
    try:
        assert sys.getswitchinterval() == switch_before
        assert gc.get_freeze_count() == frozen_before
    finally:
        engine.stop()
    assert sys.getswitchinterval() == switch_before


def test_the_tuning_virtuoso_run_asks_for_is_applied_and_undone_on_stop(tmp_path):
    switch_before = sys.getswitchinterval()
    assert switch_before != GIL_SWITCH_INTERVAL_S
    engine = Engine(_settings(tmp_path)).start(tune_interpreter=True)
    try:
        assert sys.getswitchinterval() == GIL_SWITCH_INTERVAL_S
    finally:
        engine.stop()
    assert sys.getswitchinterval() == switch_before
    assert gc.get_freeze_count() == 0
