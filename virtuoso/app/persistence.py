"""Small pieces of engine state that live on disk or in memory between restarts and reads.

Persisted detection thresholds (``data_dir/thresholds.json``, written by the dashboard's Apply) and
the ring buffer of recent warnings shown on the health page.
"""

from __future__ import annotations

import json
import logging
import os
from collections import deque
from pathlib import Path
from typing import Any

from virtuoso.config import DetectionSettings
from virtuoso.domain.clock import Clock

log = logging.getLogger(__name__)

_RECENT_ERRORS_MAX = 100
THRESHOLDS_FILE = "thresholds.json"


class ErrorBuffer(logging.Handler):
    """Keeps the last warnings and errors of the ``virtuoso`` loggers for the health page."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(level=logging.WARNING)
        self._clock = clock
        self.records: deque[dict[str, Any]] = deque(maxlen=_RECENT_ERRORS_MAX)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = record.getMessage()
        except Exception:  # a bad format string must not break logging
            msg = str(record.msg)
        self.records.append(
            {"ts_ms": self._clock.now_ms(), "level": record.levelname, "logger": record.name, "message": msg[:500]}
        )


def load_persisted_thresholds(data_dir: Path, default: DetectionSettings) -> DetectionSettings:
    """Thresholds applied from the dashboard survive restarts; a bad file is ignored with a warning."""
    path = data_dir / THRESHOLDS_FILE
    if not path.is_file():
        return default
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
        return DetectionSettings(**{**default.model_dump(), **values})
    except Exception as exc:  # the file is user-editable; never refuse to start over it
        log.warning("ignoring %s: %s", path, exc)
        return default


def save_thresholds(data_dir: Path, thresholds: DetectionSettings) -> None:
    """Write thresholds atomically (write to a temp file, then rename)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = data_dir / (THRESHOLDS_FILE + ".tmp")
    tmp.write_text(json.dumps(thresholds.model_dump(), indent=2), encoding="utf-8")
    os.replace(tmp, data_dir / THRESHOLDS_FILE)
