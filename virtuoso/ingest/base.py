"""The Source boundary: anything that produces raw Bybit v5 public messages.

Every source (live Bybit through pybit, the simulator, a replay file) emits the *same* message
format, Bybit v5 public WebSocket JSON already decoded to a dict, so all data goes through one
parser. ``emit(message, ts_recv_ns)`` must be cheap and must not raise.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Protocol

RawEmit = Callable[[dict[str, Any], int], None]


class Source(Protocol):
    name: str  # "bybit" | "simulator" | "replay"
    simulated: bool  # True only for the simulator: drives the SIMULATED label everywhere

    def run(self, emit: RawEmit, stop: threading.Event) -> None:
        """Produce messages until ``stop`` is set or the source is exhausted (blocking)."""
        ...

    def health(self) -> dict[str, Any]:
        """Connection state, message ages and counters for the health page (JSON-ready)."""
        ...
