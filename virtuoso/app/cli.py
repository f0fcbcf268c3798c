"""Command line: ``virtuoso check|run|simulate|replay|record|evaluate|report|discord-test``.

Each subcommand lives with its feature in a module under ``virtuoso/app/commands/`` exposing
``register(subparsers)``; this file only lists them. Exit codes: 0 ok, 1 failure, 2 bad settings
or usage.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Modules that define subcommands. Each has register(subparsers) which adds a parser whose
# default ``func(args) -> int`` runs it. A module listed here that is missing is skipped.
COMMAND_MODULES = [
    "virtuoso.app.commands.check",
    "virtuoso.app.commands.run",
    "virtuoso.app.commands.simulate",
    "virtuoso.app.commands.replay",
    "virtuoso.app.commands.record",
    "virtuoso.app.commands.evaluate",
    "virtuoso.app.commands.report",
    "virtuoso.app.commands.discord_test",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="virtuoso", description="Real-time manipulation monitor for Bybit perpetuals.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
