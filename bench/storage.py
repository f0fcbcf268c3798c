"""Storage benchmark: points/s written and the time to read 24 h of 1-minute bars of one symbol.

    .venv/bin/python bench/storage.py [--points 100000] [--batch 10000] [--url http://127.0.0.1:8086]

Without ``--url`` it starts Debian's ``influxd`` on free loopback ports with its data in a temp
directory (the same helper the tests use) and stops it afterwards. Rows:

- ``influx store``: ``InfluxStore.write_bars`` + ``flush`` end to end (formatting, gzip, HTTP, server).
- ``influx wire``: pre-formatted lines through ``InfluxV1Client.write_lines`` (what the server takes).
- ``influx wire, 1-field points``: the same series and times with one field instead of 15, to show
  that the server's cost is per field value, not per point.
- ``line format``: formatting alone (pure Python, no I/O).
- ``sqlite store``: ``SqliteStore.write_bars`` in batches of the same size (synchronous=FULL).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from virtuoso.domain.bars import Bar  # noqa: E402
from virtuoso.domain.clock import SystemClock  # noqa: E402
from virtuoso.storage import influx_schema as schema  # noqa: E402
from virtuoso.storage.influx import InfluxStore  # noqa: E402
from virtuoso.storage.influx_http import InfluxV1Client  # noqa: E402
from virtuoso.storage.spill import SpillBuffer  # noqa: E402
from virtuoso.storage.sqlite import SqliteStore  # noqa: E402

T0_MS = 1_700_000_040_000
DAY_MIN = 1_440


def make_bars(n: int, symbols: int = 50) -> list[Bar]:
    """n bars: ``symbols`` symbols x n/symbols consecutive minutes, with OI and funding set."""
    out = []
    per = max(1, n // symbols)
    for s in range(symbols):
        sym = f"SYM{s:03d}USDT"
        for i in range(per):
            p = 100.0 + (i % 97) * 0.37 + s
            out.append(Bar(sym, T0_MS + i * 60_000, 60, p, p + 0.5, p - 0.5, p + 0.1, 12.5 + i % 7, 1250.0 + i,
                           17 + i % 5, 6.25, 6.25, 50_000.0 + i, 0.0001, 0.0, 0.25))
    return out[:n]


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def query_ms(read, runs: int = 7) -> float:
    """Median ms for reading the first symbol's first 24 h."""
    times = [timed(lambda: read("SYM000USDT", T0_MS, T0_MS + DAY_MIN * 60_000)) * 1000 for _ in range(runs)]
    return statistics.median(times)


def bench_influx(url: str, bars: list[Bar], batch: int, tmp: Path) -> list[tuple[str, float, float | None]]:
    rows = []
    t = timed(lambda: [schema.bar_line(b) for b in bars])
    rows.append(("line format (pure)", len(bars) / t, None))

    stop = threading.Event()
    client = InfluxV1Client(url, "bench_store", timeout_s=60, stop=stop)
    store = InfluxStore(client, SpillBuffer(tmp / "virtuoso.db"), SystemClock(), batch_size=batch,
                        flush_interval_s=0.2, buffer_max_points=len(bars) + 1, stop=stop)
    try:
        t = timed(lambda: (store.write_bars(bars), store.flush(600)))
        assert store.health()["backlog"] == 0 and store.rejected == 0, store.health()
        got = store.read_bars("SYM000USDT", T0_MS, T0_MS + DAY_MIN * 60_000)
        assert len(got) == min(DAY_MIN, len(bars) // 50), len(got)
        rows.append((f"influx store (end to end, batch {batch})", len(bars) / t, query_ms(store.read_bars)))
    finally:
        store.close()
    lines = [schema.bar_line(b) for b in bars]
    wire = InfluxV1Client(url, "bench_wire", timeout_s=60)
    wire.create_database()
    t = timed(lambda: [wire.write_lines(lines[i:i + batch]) for i in range(0, len(lines), batch)])
    rows.append((f"influx wire (gzip, batch {batch})", len(lines) / t, None))
    narrow = [f"{line.split(' ', 1)[0]} close={b.close!r} {b.start_ms}" for line, b in zip(lines, bars)]
    t = timed(lambda: [wire.write_lines(narrow[i:i + batch]) for i in range(0, len(narrow), batch)])
    rows.append(("influx wire, 1-field points (for scale)", len(narrow) / t, None))
    wire.close()

    return rows


def bench_sqlite(bars: list[Bar], batch: int, tmp: Path) -> tuple[str, float, float]:
    store = SqliteStore(tmp / "sqlite.db")
    try:
        t = timed(lambda: [store.write_bars(bars[i:i + batch]) for i in range(0, len(bars), batch)])
        return (f"sqlite store (batch {batch})", len(bars) / t, query_ms(store.read_bars))
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=100_000, help="bars to write (1 bar = 1 point)")
    ap.add_argument("--batch", type=int, default=10_000, help="points per /write request")
    ap.add_argument("--url", help="an InfluxDB to use instead of starting influxd")
    args = ap.parse_args(argv)
    bars = make_bars(args.points)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        server = None
        url = args.url
        if url is None:
            from tests.influx_server import InfluxServer, influxd_path

            (tmp / "influxd").mkdir()
            server = InfluxServer(tmp / "influxd", influxd_path()).start()
            url = server.url
        try:
            rows = bench_influx(url, bars, args.batch, tmp) + [bench_sqlite(bars, args.batch, tmp)]
        finally:
            if server is not None:
                server.stop()
    print(f"{len(bars):,} bars (50 symbols); query = 24 h of 1-minute bars of one symbol ({DAY_MIN} rows), median of 7")
    print(f"{'what':<42} {'points/s':>10} {'query ms':>9}")
    for name, rate, q in rows:
        print(f"{name:<42} {rate:>10,.0f} {'' if q is None else f'{q:.1f}':>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
