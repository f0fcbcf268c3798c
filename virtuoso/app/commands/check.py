"""``virtuoso check``: print the effective settings with secrets redacted; exit 2 on a bad setting."""

from __future__ import annotations

import argparse
import json
import sys

from virtuoso.config import SettingsError, load_settings, redacted


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="validate settings and print them (secrets redacted)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(json.dumps(redacted(settings), indent=2, default=str))
    return 0
