"""Replay files: JSONL (or gzip) of Bybit messages; bad lines counted, never raised; the meta line."""

from __future__ import annotations

import gzip
import json
import threading
import time
from pathlib import Path

import orjson
import pytest

from virtuoso.domain.clock import ManualClock
from virtuoso.ingest.bybit.frames import Frame
from virtuoso.ingest.replay import BadLine, ReplaySource, iter_replay, read_meta

META = {"op": "virtuoso_meta", "simulated": True, "seed": 42}


def msgs(n: int = 5, t0: int = 1_736_121_600_000, step_ms: int = 1) -> list[dict]:
    return [{"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": t0 + i * step_ms,
             "data": [{"T": t0 + i * step_ms, "s": "BTCUSDT", "S": "Buy", "v": "0.001", "p": "90000.0", "L": "PlusTick",
                       "i": str(i), "BT": False}]} for i in range(n)]


def write(path: Path, lines: list, gz: bool = False) -> Path:
    text = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines).encode()
    path.write_bytes(gzip.compress(text) if gz else text)
    return path


def test_plain_and_gzip_files_give_the_same_messages(tmp_path):
    plain = write(tmp_path / "a.jsonl", msgs())
    packed = write(tmp_path / "a.jsonl.gz", msgs(), gz=True)
    assert list(iter_replay(plain)) == list(iter_replay(packed)) == msgs()


def test_the_meta_line_is_consumed_and_exposed(tmp_path):
    f = write(tmp_path / "s.jsonl", [META, *msgs(3)])
    reader = iter_replay(f)
    assert reader.meta == META
    assert list(reader) == msgs(3)
    assert read_meta(f) == META
    assert read_meta(write(tmp_path / "real.jsonl", msgs(2))) is None


def test_bad_lines_are_counted_and_passed_on_for_the_parser_never_raised(tmp_path):
    f = write(tmp_path / "b.jsonl", ["{not json", *msgs(2), "", "[1, 2]", "42", "\x00\xff garbage", msgs(1)[0]])
    reader = iter_replay(f)
    items = list(reader)
    assert [i for i in items if isinstance(i, dict)] == [*msgs(2), msgs(1)[0]]
    bad = [i for i in items if isinstance(i, BadLine)]
    assert len(bad) == 4 and reader.malformed == 4 and bad[0] == "{not json"
    skipping = iter_replay(f, skip_bad=True)
    assert list(skipping) == [*msgs(2), msgs(1)[0]] and skipping.malformed == 4


def test_frames_mode_gives_the_same_messages_as_frames_and_the_same_bad_line_counts(tmp_path):
    f = write(tmp_path / "f.jsonl", [META, *msgs(2), "{not json", "[1, 2]", META, msgs(1)[0]])
    dicts, frames = iter_replay(f), iter_replay(f, frames=True)
    as_dicts, as_frames = list(dicts), list(frames)
    assert frames.meta == META and all(type(x) is Frame for x in as_frames if not isinstance(x, BadLine))
    decoded = [orjson.loads(x.raw) if type(x) is Frame else x for x in as_frames]
    assert decoded == as_dicts and frames.malformed == dicts.malformed == 2 and frames.messages == dicts.messages == 3


def test_a_truncated_gzip_ends_the_stream_without_raising(tmp_path):
    data = gzip.compress("".join(json.dumps(m) + "\n" for m in msgs(2_000)).encode())
    f = tmp_path / "cut.jsonl.gz"
    f.write_bytes(data[: len(data) // 2])
    reader = iter_replay(f)
    got = list(reader)
    assert 0 < len(got) < 2_000 and reader.truncated


def test_a_missing_or_unreadable_file_raises_a_clear_oserror(tmp_path):
    with pytest.raises(OSError, match="nope.jsonl"):
        iter_replay(tmp_path / "nope.jsonl")
    with pytest.raises(OSError, match="directory"):
        iter_replay(tmp_path)
    fake = tmp_path / "fake.gz"
    fake.write_bytes(b"\x1f\x8bnot really gzip")
    with pytest.raises(OSError, match="gzip"):
        iter_replay(fake)


def collect(src: ReplaySource, stop: threading.Event | None = None) -> list:
    got: list = []
    src.run(lambda m, ns: got.append((m, ns)), stop or threading.Event())
    return got


def test_replay_source_is_simulated_only_when_the_file_says_so(tmp_path):
    clock = ManualClock(1_800_000_000_000)
    sim = ReplaySource(write(tmp_path / "s.jsonl", [META, *msgs(3)]), pace=False, clock=clock)
    real = ReplaySource(write(tmp_path / "r.jsonl.gz", msgs(3), gz=True), pace=False, clock=clock)
    assert sim.name == real.name == "replay"
    assert sim.simulated is True and real.simulated is False
    got = collect(sim)
    assert all(type(m) is Frame for m, _ in got)  # unpaced: frames for the parser's fast path
    assert [orjson.loads(m.raw) for m, _ in got] == msgs(3) and all(ns == clock.now_ns() for _, ns in got)
    assert sim.health()["finished"] and sim.health()["messages"] == 3 and sim.health()["seed"] == 42


def test_replay_source_passes_bad_lines_on_and_counts_them(tmp_path):
    src = ReplaySource(write(tmp_path / "b.jsonl", [*msgs(2), "oops"]), pace=False, clock=ManualClock())
    got = collect(src)
    assert len(got) == 3 and isinstance(got[-1][0], BadLine) and src.health()["malformed_lines"] == 1


def test_a_paced_replay_waits_for_recorded_time_and_stops_promptly(tmp_path):
    src = ReplaySource(write(tmp_path / "p.jsonl", msgs(3, step_ms=30_000)), pace=True, clock=ManualClock())
    stop = threading.Event()
    got: list = []
    t = threading.Thread(target=src.run, args=(lambda m, ns: got.append(m), stop), daemon=True)
    t.start()
    time.sleep(0.3)
    assert len(got) == 1  # the next message is 30 s later in recorded time
    asked = time.monotonic()
    stop.set()
    t.join(2)
    assert not t.is_alive() and time.monotonic() - asked < 0.5
