"""``virtuoso run``: the engine headless until SIGINT/SIGTERM; writes ``health.json`` as it goes.

The health file (``$VIRTUOSO_DATA_DIR/health.json``, rewritten atomically every 2 s) lets an
operator or a supervisor check a headless engine without the dashboard.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from virtuoso.app.logging_setup import configure_logging
from virtuoso.config import SettingsError, load_settings

log = logging.getLogger("virtuoso.run")
HEALTH_EVERY_S = 2.0
LOG_EVERY_S = 30.0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the engine headless until SIGINT/SIGTERM")
    p.add_argument("--seconds", type=float, default=0.0, help="stop after this many seconds (0: run until signalled)")
    p.set_defaults(func=run)


def write_health(path: Path, health: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(health, default=str, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def run(args: argparse.Namespace) -> int:
    from virtuoso.app.engine import Engine

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings)
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        engine = Engine(settings).start(tune_interpreter=True)  # this process is only the engine
    except SettingsError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    health_path = Path(settings.data_dir) / "health.json"
    info = engine.source_info()
    log.info("engine running: source=%s simulated=%s (%s)", info.name, info.simulated, info.reason)
    waited = 0.0
    since_log = 0.0
    while not stop.wait(HEALTH_EVERY_S):
        waited += HEALTH_EVERY_S
        since_log += HEALTH_EVERY_S
        health = engine.health()
        write_health(health_path, health)
        if since_log >= LOG_EVERY_S:
            since_log = 0.0
            p = health.get("pipeline", {})
            log.info("health: messages=%s malformed=%s alerts=%s queue=%s", p.get("messages"), p.get("malformed"), p.get("alerts"), p.get("queue_depth"))
        if args.seconds and waited >= args.seconds:
            break
    engine.stop()
    write_health(health_path, engine.health())
    log.info("stopped cleanly")
    return 0
