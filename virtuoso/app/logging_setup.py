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


TERMINAL_HANDLER = "virtuoso-terminal"


def add_terminal_handler(level: str = "WARNING") -> None:
    """Print Virtuoso's own warnings and errors on stderr (the terminal that started ``make run``).

    Under ``streamlit run`` nobody calls :func:`configure_logging` and Streamlit configures only its
    own loggers, so without this a failed relay bind showed on the Health page alone. Idempotent:
    Streamlit re-executes the entry script on every rerun.
    """
    import sys

    logger = logging.getLogger("virtuoso")
    if any(getattr(h, "name", "") == TERMINAL_HANDLER for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.name = TERMINAL_HANDLER
    handler.setLevel(getattr(logging, level.upper(), logging.WARNING))
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    logger.addHandler(handler)
