"""``virtuoso replay FILE``: run a recorded Bybit v5 stream through the full pipeline.

One Bybit v5 public WebSocket message per line, exactly as Bybit sends it. Time comes from the
messages (a :class:`ManualClock` set to each message's ``ts``), so a replay is deterministic and
runs as fast as possible unless ``--pace``. Alerts go to ``--alerts-out`` as JSONL; the last line
on stdout is a one-line JSON summary. A file written by ``virtuoso simulate`` (its meta line says
``"simulated": true``) gives alerts labelled simulated, as ``virtuoso run`` on the same file does. Exit codes: 0 ok, 1 unreadable file, 2 bad settings/usage.
"""

from __future__ import annotations

import argparse
import gzip
import re
import sys
import time
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Sequence

import orjson

from virtuoso.alerting.bus import AlertBus
from virtuoso.config import Settings, SettingsError, load_settings
from virtuoso.domain.alerts import Alert
from virtuoso.domain.clock import ManualClock
from virtuoso.ingest.bybit.frames import Frame

# The symbol is the last dotted part of a public topic: tickers.BTCUSDT, orderbook.50.BTCUSDT.
_TOPIC_SYMBOL = re.compile(rb'"topic"\s*:\s*"[A-Za-z]+(?:\.[0-9]+)?\.([A-Z0-9]+)"')


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="run a recorded JSONL stream of Bybit v5 messages through the pipeline")
    p.add_argument("file", type=Path, help="JSONL, one Bybit v5 public WS message per line (.gz ok)")
    p.add_argument("--alerts-out", type=Path, default=None, help="write alerts here as JSONL")
    p.add_argument("--pace", action="store_true", help="replay at recorded speed instead of as fast as possible")
    p.add_argument("--symbols", nargs="+", default=None, help="watchlist (default: every symbol in the file)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if not args.file.is_file():
        print(f"replay: no such file: {args.file}", file=sys.stderr)
        return 2
    symbols = _split_symbols(args.symbols) if args.symbols else symbols_in_file(args.file)
    try:
        summary = replay_file(args.file, settings, symbols, alerts_out=args.alerts_out, pace=args.pace)
    except OSError as exc:
        print(f"replay: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(orjson.dumps(summary).decode() + "\n")
    return 0


def _split_symbols(values: Sequence[str]) -> list[str]:
    out = [s.strip().upper() for v in values for s in v.split(",") if s.strip()]
    return list(dict.fromkeys(out))


def _open(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def symbols_in_file(path: Path) -> list[str]:
    """Every symbol named by a topic in the file, in order of first appearance (a raw text scan)."""
    seen: dict[str, None] = {}
    with _open(path) as f:
        for line in f:
            m = _TOPIC_SYMBOL.search(line)
            if m:
                seen.setdefault(m.group(1).decode(), None)
    return list(seen)


def _default_reader(path: Path) -> Iterable[Any]:
    from virtuoso.ingest.replay import iter_replay

    return iter_replay(path, frames=True)


def _default_parser() -> Any:
    from virtuoso.ingest.bybit.parse import BybitParser

    return BybitParser()


def replay_file(
    path: Path,
    settings: Settings,
    symbols: Sequence[str],
    *,
    alerts_out: Path | None = None,
    pace: bool = False,
    reader: Callable[[Path], Iterable[Any]] = _default_reader,
    parser_factory: Callable[[], Any] = _default_parser,
    detection: Any = None,
) -> dict[str, Any]:
    """Run the file through parse -> state -> detection -> bus; return the summary dict.

    ``reader``, ``parser_factory`` and ``detection`` default to the real ones; tests pass twins.
    """
    from virtuoso.app.pipeline import Pipeline
    from virtuoso.detect.runner import DetectionRunner
    from virtuoso.ingest.replay import read_meta
    from virtuoso.state.market import MarketState
    from virtuoso.state.price_band import PriceBand

    clock = ManualClock()
    simulated = bool((read_meta(path) or {}).get("simulated")) if path.is_file() else False
    state = MarketState(list(symbols), settings.state.retention_1s_s, settings.state.retention_1m_min,
                        simulated=simulated)
    if detection is None:
        detection = DetectionRunner(settings.detection, settings.policy, list(symbols), simulated=simulated)
    bus = AlertBus()
    pipeline = Pipeline(parser_factory(), state, detection, bus, clock,
                        price_band=PriceBand(settings.state.price_band_pct))
    out: IO[bytes] | None = None
    if alerts_out is not None:
        alerts_out.parent.mkdir(parents=True, exist_ok=True)
        out = open(alerts_out, "wb")

    def write_alerts(alerts: Sequence[Alert]) -> None:
        if out is not None:
            out.write(b"".join(orjson.dumps(a.to_dict(), default=str) + b"\n" for a in alerts))

    bus.subscribe_alerts("replay-file", write_alerts)
    started = time.perf_counter()
    first_ts_ms: int | None = None
    on_message = pipeline.on_message
    try:
        for item in reader(path):
            msg, ts_recv_ns = _unpack(item)
            if ts_recv_ns:
                clock.set_ms(ts_recv_ns // 1_000_000)
                if pace:
                    ts_ms = ts_recv_ns // 1_000_000
                    first_ts_ms = ts_ms if first_ts_ms is None else first_ts_ms
                    ahead_s = (ts_ms - first_ts_ms) / 1000 - (time.perf_counter() - started)
                    if ahead_s > 0:
                        time.sleep(min(ahead_s, 60.0))
            on_message(msg, ts_recv_ns or clock.now_ns())
        pipeline.finish()
    finally:
        if out is not None:
            out.close()
    seconds = time.perf_counter() - started
    return {
        "messages": pipeline.messages,
        "events": pipeline.events,
        "malformed": pipeline.malformed,
        "alerts": pipeline.alerts,
        "seconds": round(seconds, 3),
        "msgs_per_s": round(pipeline.messages / seconds, 1) if seconds > 0 else 0.0,
        "event_seconds": pipeline.seconds,
        "symbols": list(symbols),
        "simulated": simulated,
        "price_rejected": pipeline.price_band.rejected_trades + pipeline.price_band.rejected_tickers,
    }


def _unpack(item: Any) -> tuple[Any, int]:
    """Reader items are a message (a dict or a frame), or ``(message, ts_recv_ns)``; receive time
    defaults to the message's ``ts``."""
    if type(item) is Frame:
        ts = item.envelope.ts
    elif isinstance(item, tuple) and len(item) == 2:
        return item[0], int(item[1] or 0)
    else:
        ts = item.get("ts") if isinstance(item, dict) else None
    return item, int(ts) * 1_000_000 if isinstance(ts, int) and ts > 0 else 0
