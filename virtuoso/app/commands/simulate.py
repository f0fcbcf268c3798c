"""``virtuoso simulate --out FILE``: write a simulated Bybit v5 stream and its labels.

The file is the replay format (JSONL, gzipped when FILE ends in ``.gz``) with a first line
``{"op": "virtuoso_meta", "simulated": true, "seed": ...}``; the labels (every episode,
including hard negatives) go to ``FILE.labels.json`` or ``--labels``. Same seed and start, same
bytes. The last line on stdout is a one-line JSON summary. Exit codes: 0 ok, 1 cannot write,
2 bad settings/usage.
"""

from __future__ import annotations

import argparse
import gzip
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

import orjson

from virtuoso.config import SettingsError, load_settings

DEFAULT_START = "2025-01-06T00:00:00Z"  # a Monday; fixed so the same seed gives the same file
_SYMBOL = re.compile(r"^[A-Z0-9]{2,30}$")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="write a simulated, labelled Bybit v5 stream as a replay file")
    p.add_argument("--out", type=Path, required=True, help="output JSONL (.gz to compress)")
    p.add_argument("--hours", type=float, default=0.0, help="simulated hours (added to --minutes)")
    p.add_argument("--minutes", type=float, default=0.0, help="simulated minutes (default 60 when neither is given)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default VIRTUOSO_SIMULATOR__SEED)")
    p.add_argument("--symbols", default=None,
                   help="comma-separated symbols, 'all' (the simulated universe of 500) or 'tiers' (BTCUSDT and "
                        "two names per liquidity tier, drawn by seed); default VIRTUOSO_SYMBOLS")
    p.add_argument("--episodes-per-hour", type=float, default=None, help="labelled episodes per symbol per hour")
    p.add_argument("--market-moves-per-day", type=float, default=None, help="market-wide moves per day (hard negatives)")
    p.add_argument("--start", default=DEFAULT_START, help=f"UTC start, ISO 8601 or epoch ms, or 'now' (default {DEFAULT_START})")
    p.add_argument("--labels", type=Path, default=None, help="labels JSON path (default FILE.labels.json)")
    p.add_argument("--quiet", action="store_true", help="plant no manipulation (hard negatives stay): a false-alarm run")
    p.add_argument("--real", choices=("held_out", "calibration"), default=None,
                   help="write the real-candle background instead (a day of that part; see --day)")
    p.add_argument("--day", type=int, default=0, help="with --real: which day of the part (0 = its first)")
    p.add_argument("--warmup-hours", type=float, default=1.0, help="with --real: history before the day, not scored")
    p.add_argument("--real-data", type=Path, default=None, help="with --real: candles directory (default ../shared/data/real)")
    p.set_defaults(func=run)


def parse_start(value: str) -> int:
    """Epoch milliseconds from ``now``, digits (epoch ms) or an ISO 8601 time (UTC if no zone)."""
    if value == "now":
        return time.time_ns() // 1_000_000
    if value.isdigit():
        return int(value)
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp() * 1000)


def _open_out(path: Path) -> IO[bytes]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return gzip.open(path, "wb", compresslevel=5) if path.suffix == ".gz" else open(path, "wb")


def _write_stream(path: Path, meta: dict, messages: Any) -> None:
    with _open_out(path) as f:
        f.write(orjson.dumps(meta) + b"\n")
        dumps, buf = orjson.dumps, []
        for msg, _ts in messages:
            buf.append(dumps(msg))
            if len(buf) >= 10_000:
                f.write(b"\n".join(buf) + b"\n")
                buf.clear()
        if buf:
            f.write(b"\n".join(buf) + b"\n")


def _write_real(args: argparse.Namespace, seed: int, rate: float, seconds: float, labels_path: Path) -> int:
    """``--real``: a day of the real-candle background (real prices and volumes: ``simulated`` is false)."""
    from virtuoso.ingest.candles import DAY_MS, CandleMarket, default_data_dir, load_real, real_window, split_days
    from virtuoso.ingest.simulator import labels_to_json

    try:
        data = load_real(args.real_data or default_data_dir())
    except (OSError, ValueError) as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 1
    parts = split_days(data)
    days = parts[args.real]
    if not 0 <= args.day < len(days):
        print(f"simulate: --day must be 0..{len(days) - 1} for the {args.real} part", file=sys.stderr)
        return 2
    cal = parts["calibration"]
    turnover = {s: sc.turnover_usd_day(cal[0], cal[-1] + DAY_MS) for s, sc in data.items()} if cal else None
    start, scored_from, _ = real_window(days[args.day], args.warmup_hours * 3600)
    end = min(scored_from + DAY_MS, start + int(args.warmup_hours * 3_600_000 + seconds * 1000))
    market = CandleMarket(data, start_ms=start, end_ms=end, seed=seed, episodes_per_hour=rate, turnover_usd_day=turnover)
    started = time.perf_counter()
    try:
        meta = {"op": "virtuoso_meta", "simulated": False, "source": "real-candles", "split": args.real,
                "day": args.day, "seed": seed, "symbols": market.symbols, "start_ms": start, "scored_from_ms": scored_from}
        _write_stream(args.out, meta, market.run())
        extra = {"source": "real-candles", "split": args.real, "held_out": args.real == "held_out",
                 "quiet": rate == 0, "scored_from_ms": scored_from, "symbols_info": market.symbols_info()}
        labels_path.parent.mkdir(parents=True, exist_ok=True)
        labels_path.write_text(labels_to_json(market.labels, seed=seed, symbols=market.symbols, start_ms=start,
                                              end_ms=end, extra=extra), encoding="utf-8")
    except OSError as exc:
        print(f"simulate: cannot write: {exc}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    summary = {"out": str(args.out), "labels": str(labels_path), "messages": market.messages, "source": "real-candles",
               "split": args.real, "scored_from_ms": scored_from, "end_ms": end, "seconds": round(elapsed, 3)}
    sys.stdout.write(orjson.dumps(summary).decode() + "\n")
    return 0


def run(args: argparse.Namespace) -> int:
    from virtuoso.ingest.simulator import SimMarket, evaluation_symbols, labels_to_json, simulated_universe
    from virtuoso.ingest.simulator.labels import symbols_info

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    sim = settings.simulator
    seconds = args.hours * 3600.0 + args.minutes * 60.0 or 3600.0
    if seconds <= 0 or seconds > 366 * 86_400:
        print("simulate: --hours/--minutes must give a duration between 1 s and a year", file=sys.stderr)
        return 2
    seed = sim.seed if args.seed is None else args.seed
    symbols = simulated_universe() if settings.follows_all else list(settings.symbols)
    if args.symbols and args.symbols.strip().lower() in ("all", "tiers"):
        symbols = simulated_universe() if args.symbols.strip().lower() == "all" else evaluation_symbols(seed)
    elif args.symbols:
        symbols = list(dict.fromkeys(s.strip().upper() for s in args.symbols.split(",") if s.strip()))
        bad = [s for s in symbols if not _SYMBOL.match(s)]
        if bad or not symbols:
            print(f"simulate: --symbols expects comma-separated symbols like BTCUSDT, got {args.symbols[:60]!r}",
                  file=sys.stderr)
            return 2
    try:
        start_ms = parse_start(args.start)
    except ValueError:
        print(f"simulate: --start expects ISO 8601, epoch ms or 'now', got {args.start[:40]!r}", file=sys.stderr)
        return 2
    rate = sim.episodes_per_hour if args.episodes_per_hour is None else args.episodes_per_hour
    moves = sim.market_moves_per_day if args.market_moves_per_day is None else args.market_moves_per_day
    if rate < 0 or moves < 0:
        print("simulate: rates must be >= 0", file=sys.stderr)
        return 2
    labels_path = args.labels or args.out.with_name(args.out.name + ".labels.json")
    if args.real:
        return _write_real(args, seed, 0.0 if args.quiet else rate, seconds, labels_path)
    market = SimMarket(symbols, seed=seed, start_ms=start_ms, episodes_per_hour=rate, market_moves_per_day=moves,
                       quiet=args.quiet)
    started = time.perf_counter()
    try:
        meta = {"op": "virtuoso_meta", "simulated": True, "seed": seed, "symbols": symbols,
                "start_ms": market.start_ms, "seconds": int(seconds), "episodes_per_hour": rate,
                "market_moves_per_day": moves, "quiet": args.quiet}
        _write_stream(args.out, meta, market.run(seconds))
        labels_path.parent.mkdir(parents=True, exist_ok=True)
        extra = {"source": "simulator", "quiet": args.quiet, "symbols_info": symbols_info(market.profiles)}
        labels_path.write_text(labels_to_json(market.labels, seed=seed, symbols=symbols, start_ms=market.start_ms,
                                              end_ms=market.now_ms, extra=extra), encoding="utf-8")
    except OSError as exc:
        print(f"simulate: cannot write: {exc}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    summary = {
        "out": str(args.out),
        "labels": str(labels_path),
        "messages": market.messages,
        "episodes": sum(1 for e in market.labels if not e.is_negative),
        "quiet": args.quiet,
        "hard_negatives": sum(1 for e in market.labels if e.is_negative),
        "simulated_s": int(seconds),
        "seconds": round(elapsed, 3),
        "msgs_per_s": round(market.messages / elapsed, 1) if elapsed > 0 else 0.0,
    }
    sys.stdout.write(orjson.dumps(summary).decode() + "\n")
    return 0
