"""The Sink boundary: one outgoing channel that drains the durable outbox in its own task.

The delivery service (:mod:`virtuoso.sinks.delivery`) runs each sink's :meth:`Sink.run` as an
asyncio task on its loop, sets :attr:`Sink.wake` when the outbox has something new, and on stop
sets :attr:`Sink.stopping` and wakes it so it flushes what it can within a short grace. A sink
records its own delivery state in the outbox, so a failing channel never holds back another.
Discord, Telegram, the generic webhook and the WebSocket relay are sinks.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Sink(Protocol):
    name: str  # the outbox's name for this channel's delivery records ("discord", "relay", ...)
    wake: asyncio.Event  # set by the service when there is something to deliver
    stopping: bool  # set by the service on stop: deliver what is due, then return

    async def run(self) -> None:
        """Deliver from the outbox until ``stopping`` (cancelled after the grace)."""
        ...

    def health(self) -> dict[str, Any]:
        """State, backlog, sent, failed and last error for the health page (never a secret)."""
        ...
