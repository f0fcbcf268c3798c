"""Ingest benchmark: simulator generation, JSON decode, parse, parse -> state, and full replay.

    .venv/bin/python bench/ingest.py                 # >= 1,000,000 messages (about two minutes)
    .venv/bin/python bench/ingest.py --messages 200000

Generates a simulated stream for 5 symbols until it holds at least ``--messages`` messages,
writes it as a replay file in a temporary directory, then measures on the same file, one stage
after another on one core: JSON decode only (orjson), decode + BybitParser, decode + parse +
MarketState (the pipeline with detection switched off), and ``replay_file`` (the real
``virtuoso replay`` path with the detection runner). Prints a table and the ratio
parse -> state / decode-only (goal >= 0.25). CPU seconds are process time, so the figures are
less sensitive to other load on the machine; wall seconds are shown too. The decode, parse and
state stages run ``--rounds`` times, interleaved, and the best round of each counts (on a shared
machine a single pass of each moved the ratio between 0.17 and 0.22).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import msgspec
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from virtuoso.alerting.bus import AlertBus  # noqa: E402
from virtuoso.app.commands.replay import replay_file  # noqa: E402
from virtuoso.app.pipeline import Pipeline  # noqa: E402
from virtuoso.config import load_settings  # noqa: E402
from virtuoso.domain.clock import ManualClock  # noqa: E402
from virtuoso.ingest.bybit.frames import decode_frame  # noqa: E402
from virtuoso.ingest.bybit.parse import BybitParser  # noqa: E402
from virtuoso.ingest.simulator import SimMarket  # noqa: E402
from virtuoso.state.market import MarketState  # noqa: E402
from virtuoso.state.price_band import PriceBand  # noqa: E402

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT"]
START_MS = 1_736_121_600_000  # 2025-01-06 00:00 UTC


class _NoDetection:
    def on_second(self, state: Any, ts_ms: int) -> list[Any]:
        return []


def _timed(fn: Callable[[], int]) -> tuple[int, float, float]:
    w0, c0 = time.perf_counter(), time.process_time()
    n = fn()
    return n, time.process_time() - c0, time.perf_counter() - w0


def generate(path: Path, target: int, seed: int) -> tuple[int, float, float, float]:
    """Write at least ``target`` messages; returns (messages, cpu_s, wall_s, simulated_s) of generation only.

    Generation is timed on its own pass (messages counted and dropped, as a consumer would take
    them); a second pass with the same seed writes the identical stream to the file.
    """
    market = SimMarket(SYMBOLS, seed=seed, start_ms=START_MS, episodes_per_hour=0.5)
    w0, c0 = time.perf_counter(), time.process_time()
    while market.messages < target:
        for _ in market.run(600):
            pass
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    seconds = (market.now_ms - START_MS) / 1000
    again = SimMarket(SYMBOLS, seed=seed, start_ms=START_MS, episodes_per_hour=0.5)
    with open(path, "wb") as f:
        f.write(orjson.dumps({"op": "virtuoso_meta", "simulated": True, "seed": seed}) + b"\n")
        buf: list[bytes] = []
        for msg, _ in again.run(seconds):
            buf.append(orjson.dumps(msg))
            if len(buf) >= 20_000:
                f.write(b"\n".join(buf) + b"\n")
                buf.clear()
        if buf:
            f.write(b"\n".join(buf) + b"\n")
    return market.messages, cpu, wall, seconds


def decode_only(path: Path) -> int:
    """orjson: the generic decoder the dict path and the rest of the project use."""
    n = 0
    loads = orjson.loads
    with open(path, "rb") as f:
        for line in f:
            loads(line)
            n += 1
    return n


def decode_only_msgspec(path: Path) -> int:
    """msgspec's generic decoder (to dicts and lists), the faster of the two on this stream."""
    n = 0
    loads = msgspec.json.Decoder().decode
    with open(path, "rb") as f:
        for line in f:
            loads(line)
            n += 1
    return n


def parse_only(path: Path) -> int:
    parser, n = BybitParser(), 0
    with open(path, "rb") as f:
        for line in f:
            frame = decode_frame(line)
            parser.parse(frame, (frame.envelope.ts or 0) * 1_000_000)
            n += 1
    assert parser.malformed == 0, parser.stats()
    return n


def _pipeline() -> Pipeline:
    state = MarketState(SYMBOLS, retention_1s_s=1_800, retention_1m_min=2_880)
    # The price band as production runs it (virtuoso.state.price_band: a check per trade and ticker).
    return Pipeline(BybitParser(), state, _NoDetection(), AlertBus(), ManualClock(), price_band=PriceBand(25.0))


def parse_state(path: Path) -> int:
    """The replay path: each line decoded as a frame (envelope, then typed rows) into the parser."""
    pipeline = _pipeline()
    on_message = pipeline.on_message
    with open(path, "rb") as f:
        for line in f:
            frame = decode_frame(line)
            on_message(frame, (frame.envelope.ts or 0) * 1_000_000)
    pipeline.finish()
    return pipeline.messages


def parse_state_dicts(path: Path) -> int:
    """The dict path (the simulator's, and any source that hands over decoded messages)."""
    pipeline = _pipeline()
    loads, on_message = orjson.loads, pipeline.on_message
    with open(path, "rb") as f:
        for line in f:
            msg = loads(line)
            on_message(msg, msg.get("ts", 0) * 1_000_000)
    pipeline.finish()
    return pipeline.messages


def full_replay(path: Path) -> int:
    summary = replay_file(path, load_settings({}, env_file=None), SYMBOLS)
    return int(summary["messages"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=1_000_000, help="minimum messages in the generated file")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the decode/parse/state stages")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.jsonl"
        n_gen, gen_cpu, gen_wall, sim_s = generate(path, args.messages, args.seed)
        rows = [("simulator generation", n_gen, gen_cpu, gen_wall)]
        stages = (("JSON decode only (orjson)", decode_only), ("JSON decode only (msgspec)", decode_only_msgspec),
                  ("decode + parse (frames)", parse_only), ("decode + parse -> state", parse_state),
                  ("same, dict path", parse_state_dicts))
        best: dict[str, tuple[int, float, float]] = {}
        for _ in range(max(1, args.rounds)):
            for label, fn in stages:
                n, cpu, wall = _timed(lambda fn=fn: fn(path))
                if label not in best or cpu < best[label][1]:
                    best[label] = (n, cpu, wall)
        rows += [(label, *best[label]) for label, _ in stages]
        rows.append(("replay_file (full pipeline)", *_timed(lambda: full_replay(path))))
        size_mb = path.stat().st_size / 1e6
    print(f"ingest benchmark: {n_gen:,} messages, {len(SYMBOLS)} symbols, {sim_s / 3600:.2f} simulated hours, "
          f"{size_mb:.0f} MB JSONL; best of {max(1, args.rounds)} interleaved rounds for decode, parse, state")
    print(f"{'stage':30} {'messages':>10} {'cpu s':>8} {'wall s':>8} {'msgs/s (cpu)':>14} {'msgs/s (wall)':>14}")
    for label, n, cpu, wall in rows:
        print(f"{label:30} {n:>10,} {cpu:>8.2f} {wall:>8.2f} {n / cpu:>14,.0f} {n / wall:>14,.0f}")
    rate = {label: n / cpu for label, n, cpu, _ in rows}
    state = rate["decode + parse -> state"]
    for label in ("JSON decode only (orjson)", "JSON decode only (msgspec)"):
        print(f"ratio parse -> state / {label[5:]}: {state / rate[label]:.3f}  (goal >= 0.25)")
    print(f"ratio with the dict path / JSON decode only (orjson): {rate['same, dict path'] / rate['JSON decode only (orjson)']:.3f}")
    print(f"simulated symbol-days per cpu minute: {sim_s / 86_400 * len(SYMBOLS) / gen_cpu * 60:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
