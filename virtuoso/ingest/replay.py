"""Replay files: JSONL with one Bybit v5 public WebSocket message per line, optionally gzipped.

A recording from Bybit is exactly what the venue sent, one JSON object per line. A file written
by ``virtuoso simulate`` starts with a meta line ``{"op": "virtuoso_meta", "simulated": true,
"seed": ...}`` (the parser would count it as a control frame; the reader consumes it and exposes
it as ``meta``), so a simulated stream stays labelled SIMULATED when it is replayed.

With ``frames=True`` the reader yields each message as a
:class:`virtuoso.ingest.bybit.frames.Frame` (its envelope decoded, the rest left as raw JSON for
the parser's fast path) instead of a dict; replay without pacing reads files that way.

Bad input never raises mid-stream: a line that is not a JSON object is counted
(``malformed``) and passed on as a :class:`BadLine` (a ``str``), so the parser, the one place
that counts malformed input for the pipeline summary, counts it too (``skip_bad=True`` drops
them instead). A truncated gzip ends the stream and sets ``truncated``. Only a missing or
unreadable file raises, at open time (``OSError``).
"""

from __future__ import annotations

import gzip
import logging
import threading
import time
import zlib
from pathlib import Path
from typing import IO, Any, Iterator

import orjson

from virtuoso.domain.clock import Clock
from virtuoso.ingest.base import RawEmit
from virtuoso.ingest.bybit.frames import Frame, decode_frame

log = logging.getLogger(__name__)

META_OP = "virtuoso_meta"
_GZIP_MAGIC = b"\x1f\x8b"


class BadLine(str):
    """An unreadable line (first 200 characters), passed on so the parser counts it as malformed."""


def _open(path: Path) -> tuple[IO[bytes], IO[bytes]]:
    """(stream, raw file) of plain or gzip JSONL (gzip detected by magic bytes); OSError names the file."""
    try:
        f: IO[bytes] = open(path, "rb")
        head = f.read(2)
        f.seek(0)
    except IsADirectoryError:
        raise OSError(f"replay file is a directory: {path}") from None
    except OSError as exc:
        raise OSError(f"cannot read replay file {path}: {exc.strerror or exc}") from None
    if head == _GZIP_MAGIC:
        gz = gzip.GzipFile(fileobj=f, mode="rb")
        try:
            gz.peek(1)
        except (OSError, EOFError, zlib.error) as exc:
            f.close()
            raise OSError(f"replay file {path} is not a readable gzip file: {exc}") from None
        return gz, f  # type: ignore[return-value]
    return f, f


class ReplayReader:
    """Iterates the messages of one replay file; ``meta``, ``lines``, ``malformed``, ``truncated``."""

    def __init__(self, path: Path | str, *, skip_bad: bool = False, frames: bool = False) -> None:
        self.path = Path(path)
        self.skip_bad = skip_bad
        self.frames = frames
        self._first_raw = b""
        self.meta: dict[str, Any] | None = None
        self.lines = 0
        self.messages = 0
        self.malformed = 0
        self.truncated = False
        self._f, self._raw = _open(self.path)
        self._first = self._read_first()

    def _read_first(self) -> Any:
        """Read up to the first non-empty line; consume it if it is the meta line."""
        for raw in self._lines():
            item = _read_dict(raw)
            if item is _META:
                self.meta = orjson.loads(raw)  # once per file
                return None
            if item is None:
                return self._bad(raw)
            self._first_raw = raw
            return item
        return None

    def _lines(self) -> Iterator[bytes]:
        f = self._f
        while True:
            try:
                raw = f.readline()
            except (EOFError, zlib.error, OSError) as exc:  # truncated or corrupt gzip tail
                self.truncated = True
                log.warning("replay file %s ends early: %s", self.path, exc)
                return
            if not raw:
                return
            self.lines += 1
            if raw.strip():
                yield raw

    def _bad(self, raw: bytes) -> BadLine | None:
        """Count an unreadable line; pass it on for the parser to count too, unless ``skip_bad``."""
        self.malformed += 1
        return None if self.skip_bad else BadLine(raw[:200].decode("utf-8", "replace").strip())

    def __iter__(self) -> Iterator[Any]:
        try:
            if self._first is not None:
                self.messages += 1
                yield decode_frame(self._first_raw) if self.frames and type(self._first) is dict else self._first
            read = _read_frame if self.frames else _read_dict
            for raw in self._lines():
                item = read(raw)
                if item is _META:
                    continue
                if item is None:
                    item = self._bad(raw)
                    if item is None:
                        continue
                else:
                    self.messages += 1
                yield item
        finally:
            self.close()

    def close(self) -> None:
        try:
            self._f.close()
        except (OSError, EOFError, zlib.error):
            pass
        self._raw.close()


_META = object()  # what the line readers return for a meta line


def _read_dict(raw: bytes) -> Any:
    """A line as a message dict, ``_META`` for a meta line, None when it is not a JSON object."""
    try:
        item = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if type(item) is not dict:
        return None
    return _META if item.get("op") == META_OP else item


def _read_frame(raw: bytes) -> Frame | object | None:
    """A line as a :class:`Frame`, ``_META`` for a meta line, None when it is not a JSON object."""
    frame = decode_frame(raw)
    if frame is None:
        return None
    return _META if frame.envelope.op == META_OP else frame


def read_meta(path: Path | str) -> dict[str, Any] | None:
    """The ``virtuoso_meta`` line of a file, or None (a real Bybit recording has none)."""
    reader = ReplayReader(path)
    try:
        return reader.meta
    finally:
        reader.close()


def iter_replay(path: Path | str, *, skip_bad: bool = False, frames: bool = False) -> ReplayReader:
    """Messages of a JSONL (or .gz) replay file in file order; see the module docstring.

    Opens the file now, so a missing or unreadable file raises ``OSError`` here, not later.
    """
    return ReplayReader(path, skip_bad=skip_bad, frames=frames)


class ReplaySource:
    """A replay file as a :class:`virtuoso.ingest.base.Source`.

    ``simulated`` is True only when the file's meta line says so. With ``pace`` the messages are
    released at the speed they were recorded (by their ``ts``); otherwise as fast as the engine
    takes them. Receive times come from the injected clock.
    """

    name = "replay"
    can_block = True  # a file waits: dropping would lose ticker deltas and leave holes in history

    def __init__(self, path: Path | str, pace: bool, clock: Clock) -> None:
        self.path = Path(path)
        self.pace = pace
        self.clock = clock
        meta = read_meta(self.path)
        self.meta = meta or {}
        self.simulated = bool(meta and meta.get("simulated"))
        self.messages = 0
        self.malformed = 0
        self.finished = False
        self.last_ts_ms = 0

    def run(self, emit: RawEmit, stop: threading.Event) -> None:
        """Emit every message (bad lines too, for the parser to count) until the end or ``stop``."""
        reader = iter_replay(self.path, frames=not self.pace)  # a paced replay reads the ts of dicts
        first_ts: int | None = None
        started = time.monotonic()
        now_ns = self.clock.now_ns
        try:
            for item in reader:
                if stop.is_set():
                    return
                if self.pace and isinstance(item, dict):
                    ts = item.get("ts")
                    if isinstance(ts, int) and ts > 0:
                        first_ts = ts if first_ts is None else first_ts
                        self.last_ts_ms = ts
                        while True:
                            ahead_s = (ts - first_ts) / 1000.0 - (time.monotonic() - started)
                            if ahead_s <= 0:
                                break
                            if stop.wait(min(ahead_s, 0.1)):
                                return
                emit(item, now_ns())
                self.messages += 1
        finally:
            self.malformed = reader.malformed
            reader.close()
            self.finished = True

    def health(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "pace": self.pace,
            "simulated": self.simulated,
            "messages": self.messages,
            "malformed_lines": self.malformed,
            "finished": self.finished,
            "seed": self.meta.get("seed"),
        }
