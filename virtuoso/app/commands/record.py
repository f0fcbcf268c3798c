"""``virtuoso record --out FILE --minutes N``: capture the live Bybit stream in the replay format.

One Bybit v5 public message per line, as received (decoded and re-encoded with orjson, so the
content and key order are Bybit's; only whitespace may differ). Gzip when FILE ends in ``.gz``.
Only data messages (those with a ``topic``) are written: subscribe acks and pongs carry no ``ts``
and replay ignores them. ``virtuoso replay FILE`` reads the result. SIGINT/SIGTERM end the
recording early with a complete file. The last stdout line is a JSON summary.
Exit codes: 0 ok, 1 nothing was received, 2 bad settings.
"""

from __future__ import annotations

import argparse
import gzip
import logging
import queue
import signal
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any, Callable

import orjson

from virtuoso.app.logging_setup import configure_logging
from virtuoso.config import Settings, SettingsError, load_settings
from virtuoso.domain.clock import Clock, SystemClock
from virtuoso.ingest.bybit.frames import Frame

log = logging.getLogger("virtuoso.record")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("record", help="record the live Bybit stream to a JSONL file that replay reads")
    p.add_argument("--out", type=Path, required=True, help="output file (.jsonl, or .jsonl.gz to compress)")
    p.add_argument("--minutes", type=float, required=True, help="how long to record (fractions allowed)")
    p.add_argument("--symbols", nargs="+", default=None, help="watchlist (default: VIRTUOSO_SYMBOLS)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    overrides: dict[str, Any] = {}
    if args.symbols:
        overrides["symbols"] = ",".join(args.symbols)
    try:
        settings = load_settings(**overrides)
    except SettingsError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if args.minutes <= 0:
        print("record: --minutes must be positive", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings)
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal %d: finishing the recording", signum)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    summary = record_stream(settings, args.out, args.minutes * 60.0, stop=stop)
    sys.stdout.write(orjson.dumps(summary).decode() + "\n")
    return 0 if summary["messages"] > 0 else 1


def _default_source(settings: Settings, clock: Clock) -> Any:
    from virtuoso.app.build import build_bybit

    return build_bybit(settings, clock)


def _open_out(path: Path) -> IO[bytes]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return gzip.open(path, "wb") if path.suffix == ".gz" else open(path, "wb")


def record_stream(
    settings: Settings,
    out: Path,
    seconds: float,
    *,
    stop: threading.Event | None = None,
    clock: Clock | None = None,
    source_factory: Callable[[Settings, Clock], Any] = _default_source,
) -> dict[str, Any]:
    """Run the live source for ``seconds`` (or until ``stop``) and write what it emits to ``out``.

    The socket thread only enqueues; this thread does the file I/O.
    """
    clock = clock or SystemClock()
    stop = stop or threading.Event()
    source_stop = threading.Event()
    inbox: queue.Queue[bytes] = queue.Queue(maxsize=settings.state.queue_max)
    dropped = [0]

    def emit(msg: Any, _ts_recv_ns: int) -> None:
        line = _record_line(msg)
        if line is None:
            return
        try:
            inbox.put_nowait(line)
        except queue.Full:
            dropped[0] += 1

    source = source_factory(settings, clock)
    worker = threading.Thread(target=source.run, args=(emit, source_stop), name="virtuoso-record-source", daemon=True)
    started = time.monotonic()
    written = 0
    with _open_out(out) as f:
        worker.start()
        deadline = started + seconds
        while not stop.is_set() and time.monotonic() < deadline:
            written += _drain(inbox, f, timeout_s=min(0.2, max(0.0, deadline - time.monotonic())))
        source_stop.set()
        worker.join(10.0)
        written += _drain(inbox, f, timeout_s=0.0)
    health = source.health() if hasattr(source, "health") else {}
    return {
        "out": str(out),
        "messages": written,
        "dropped": dropped[0],
        "seconds": round(time.monotonic() - started, 3),
        "reconnects": health.get("reconnects", 0),
        "gaps": len(health.get("gaps", [])),
        "malformed_frames": health.get("malformed_frames", 0),
    }


def _record_line(msg: Any) -> bytes | None:
    """The JSONL line for a data message (a frame's bytes as Bybit sent them), None for control frames."""
    if type(msg) is Frame:
        if not isinstance(msg.envelope.topic, str):
            return None
        raw = msg.raw.encode() if isinstance(msg.raw, str) else msg.raw
        # Bybit's frames are one line; anything else is re-encoded so the file stays JSONL.
        return raw if b"\n" not in raw and b"\r" not in raw else orjson.dumps(orjson.loads(raw))
    if isinstance(msg, dict) and "topic" in msg:
        return orjson.dumps(msg)
    return None


def _drain(inbox: "queue.Queue[bytes]", f: IO[bytes], timeout_s: float) -> int:
    lines: list[bytes] = []
    try:
        lines.append(inbox.get(timeout=timeout_s) if timeout_s > 0 else inbox.get_nowait())
        while True:
            lines.append(inbox.get_nowait())
    except queue.Empty:
        pass
    if lines:
        f.write(b"\n".join(lines) + b"\n")
    return len(lines)
