"""The Source boundary: anything that produces raw Bybit v5 public messages.

Every source (live Bybit through pybit, the simulator, a replay file) emits the *same* message
format, Bybit v5 public WebSocket JSON, so all data goes through one parser: either decoded to a
dict, or as a :class:`virtuoso.ingest.bybit.frames.Frame` (envelope decoded, the rest raw JSON for
the parser's fast path). ``emit(message, ts_recv_ns)`` must be cheap and must not raise.

A source that replays warm-up history before its live data (the simulator) may also expose
``live_from_ms: int``, the event time from which its messages are live: alerts raised on earlier
data are recorded as history and not pushed to Discord, Telegram or the webhook.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Protocol

RawEmit = Callable[[Any, int], None]  # (message dict or Frame, receive time ns)


class Source(Protocol):
    name: str  # "bybit" | "simulator" | "replay": shown to the user, never branched on
    simulated: bool  # True only for the simulator: drives the SIMULATED label everywhere

    @property
    def can_block(self) -> bool:
        """True if ``emit`` may block until the pipeline has room (a file, the simulator): such a
        source is never dropped from. False for a live feed whose reader thread must not stall
        (its socket would fall behind): when the pipeline is full its messages are dropped and
        counted."""
        ...

    def run(self, emit: RawEmit, stop: threading.Event) -> None:
        """Produce messages until ``stop`` is set or the source is exhausted (blocking)."""
        ...

    def health(self) -> dict[str, Any]:
        """Connection state, message ages and counters for the health page (JSON-ready)."""
        ...
