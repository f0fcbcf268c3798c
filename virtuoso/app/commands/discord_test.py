"""``virtuoso discord-test``: send one test message to the configured webhook and report the outcome.

Exit codes: 0 delivered, 1 Discord refused it or was unreachable, 2 bad or missing settings.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from virtuoso.config import SettingsError, load_settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("discord-test", help="send one test message to VIRTUOSO_DISCORD__WEBHOOK_URL")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from virtuoso.alerting.discord_format import test_message
    from virtuoso.domain.clock import SystemClock
    from virtuoso.sinks.discord import DiscordClient

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    d = settings.discord
    if d.webhook_url is None:
        print("VIRTUOSO_DISCORD__WEBHOOK_URL: not set (expected https://discord.com/api/webhooks/<id>/<token>)",
              file=sys.stderr)
        return 2
    url = d.webhook_url.get_secret_value()
    if not url.startswith(("http://", "https://")):
        print("VIRTUOSO_DISCORD__WEBHOOK_URL: expected an http(s):// URL", file=sys.stderr)
        return 2

    async def send() -> tuple[object, str]:
        client = DiscordClient(url, timeout_s=d.timeout_s, max_attempts=min(d.max_attempts, 3))
        try:
            return await client.post(test_message(SystemClock().now_ms(), username=d.username)), client.redacted_url
        finally:
            await client.aclose()

    result, shown = asyncio.run(send())
    if result.ok:  # type: ignore[attr-defined]
        print(f"delivered to {shown} (HTTP {result.status}, {result.attempts} attempt(s))")  # type: ignore[attr-defined]
        return 0
    print(f"not delivered to {shown}: {result.error} after {result.attempts} attempt(s)", file=sys.stderr)  # type: ignore[attr-defined]
    return 1
