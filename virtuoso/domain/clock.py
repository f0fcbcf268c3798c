"""Time goes through an injected clock so replay and tests are deterministic."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now_ns(self) -> int: ...
    def now_ms(self) -> int: ...


class SystemClock:
    """Wall-clock time."""

    def now_ns(self) -> int:
        return time.time_ns()

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class ManualClock:
    """A clock tests and replay move by hand."""

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self._ns = start_ms * 1_000_000

    def now_ns(self) -> int:
        return self._ns

    def now_ms(self) -> int:
        return self._ns // 1_000_000

    def set_ms(self, ms: int) -> None:
        self._ns = ms * 1_000_000

    def advance_s(self, seconds: float) -> None:
        self._ns += int(seconds * 1e9)
