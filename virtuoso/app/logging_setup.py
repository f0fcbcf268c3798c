"""Process-wide logging set-up for the CLI (the library itself only creates loggers)."""

from __future__ import annotations

import logging


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    # pybit and websocket-client are chatty at INFO about every reconnect attempt.
    logging.getLogger("websocket").setLevel(logging.WARNING)
