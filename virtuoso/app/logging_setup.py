"""Process-wide logging set-up for the CLI (the library itself only creates loggers).

Secrets are scrubbed from every record before any handler sees it (:mod:`virtuoso.sinks.redact`),
whatever the level and whichever library logs: no logger is turned down to hide a secret.
"""

from __future__ import annotations

import logging
from typing import Any

from virtuoso.sinks import redact


def configure_logging(level: str = "INFO", settings: Any = None) -> None:
    """Console logging at ``level``; with ``settings``, every secret in them is masked in every record."""
    redact.install()
    if settings is not None:
        redact.protect_settings(settings)
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    for handler in logging.getLogger().handlers:  # also records made without the factory
        if redact.SCRUBBER not in handler.filters:
            handler.addFilter(redact.SCRUBBER)
    # pybit and websocket-client are chatty at INFO about every reconnect attempt (noise, not secrets).
    logging.getLogger("websocket").setLevel(logging.WARNING)
