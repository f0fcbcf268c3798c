"""Real 1-minute candles and funding history (``../shared/data/real``): reading, tiers, day splits.

The data directory holds gzip CSVs (see its PROVENANCE.md): ``{BASE}_USDT_USDT-1m-futures.csv.gz``
with ``ts_ms,date,open,high,low,close,volume`` (volume in the base asset) and
``{BASE}_USDT_USDT-8h-funding_rate.csv.gz`` with the rate in ``open``. It is read from where it
lies, never copied into the repository. Prices and sizes are kept as integer ticks and lots: the
tick and lot are the finest decimals the files use, so the bridge reproduces every candle exactly.

**Split** (:func:`split_days`): the whole UTC days on which at least half the symbols have 95 %
of their candles, in order; the first half (rounded up) is the *calibration* part, the rest the
*held-out* part that figures are reported on. On the shipped data: calibration 2025-05-05 to
2025-05-19 (15 days), held out 2025-05-20 to 2025-06-02 (14 days).
"""

from __future__ import annotations

import gzip
import math
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

DAY_MS = 86_400_000
MINUTE_MS = 60_000
CANDLES_SUFFIX = "_USDT_USDT-1m-futures.csv.gz"
FUNDING_SUFFIX = "_USDT_USDT-8h-funding_rate.csv.gz"
PARTS = ("calibration", "held_out")


@dataclass(frozen=True)
class SymbolCandles:
    """One symbol's candles as arrays (``ts_ms`` minute starts, prices in ticks, volume in lots)."""

    symbol: str
    tick: float
    qty_step: float
    ts_ms: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume_lots: np.ndarray
    funding_ts_ms: np.ndarray
    funding_rate: np.ndarray

    def turnover_usd_day(self, start_ms: int | None = None, end_ms: int | None = None) -> float:
        """Average daily turnover (close x volume) over [start_ms, end_ms)."""
        m = np.ones(len(self.ts_ms), dtype=bool)
        if start_ms is not None:
            m &= self.ts_ms >= start_ms
        if end_ms is not None:
            m &= self.ts_ms < end_ms
        if not m.any():
            return 0.0
        usd = (self.close[m] * self.tick) * (self.volume_lots[m] * self.qty_step)
        return float(usd.sum()) / (m.sum() / 1_440.0)

    def window(self, start_ms: int, end_ms: int) -> slice:
        """Index range of the candles starting in [start_ms, end_ms)."""
        a, b = np.searchsorted(self.ts_ms, [start_ms, end_ms])
        return slice(int(a), int(b))


def default_data_dir() -> Path:
    """``../shared/data/real`` relative to the repository root; from a git worktree under ``wt/``
    that is one more level up, so both are tried (the documented path is returned when neither exists)."""
    root = Path(__file__).resolve().parents[3]
    for cand in (root.parent / "shared" / "data" / "real", root.parent.parent / "shared" / "data" / "real"):
        if cand.is_dir():
            return cand
    return root.parent / "shared" / "data" / "real"


def _candle_files(data_dir: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for f in sorted(Path(data_dir).rglob(f"*{CANDLES_SUFFIX}")):
        out[f.name[: -len(CANDLES_SUFFIX)] + "USDT"] = f
    return out


def available_symbols(data_dir: Path | str | None = None) -> list[str]:
    """Symbols with a candle file under ``data_dir`` (BTCUSDT style names)."""
    return list(_candle_files(Path(data_dir) if data_dir else default_data_dir()))


def _decimals(texts: Iterable[str]) -> int:
    d = 0
    for t in texts:
        exp = Decimal(t.strip()).normalize().as_tuple().exponent
        if isinstance(exp, int):
            d = max(d, -exp)
    return d


def _read_rows(path: Path) -> list[list[str]]:
    with gzip.open(path, "rt", encoding="ascii") as f:
        next(f, None)
        return [line.rstrip("\n").split(",") for line in f if line.strip()]


def load_symbol(path: Path, symbol: str, funding_path: Path | None) -> SymbolCandles:
    """Read one symbol's candle file (and its funding file when there is one)."""
    rows = _read_rows(path)
    if not rows:
        raise ValueError(f"{path}: no candles")
    sample = rows[:: max(1, len(rows) // 3_000)]
    price_dec = min(8, _decimals(x for r in sample for x in r[2:6]))
    qty_dec = min(8, _decimals(r[6] for r in sample))
    tick, step = 10.0**-price_dec, 10.0**-qty_dec
    arr = np.array([[float(x) for x in (r[0], *r[2:7])] for r in rows])
    order = np.argsort(arr[:, 0], kind="stable")
    arr = arr[order]
    keep = np.concatenate([[True], np.diff(arr[:, 0]) > 0])  # one candle per minute
    arr = arr[keep]
    ticks = np.rint(arr[:, 1:5] / tick).astype(np.int64)
    f_ts, f_rate = np.zeros(0, dtype=np.int64), np.zeros(0)
    if funding_path is not None and funding_path.is_file():
        fr = np.array([[float(r[0]), float(r[2])] for r in _read_rows(funding_path)])
        if len(fr):
            f_ts = (np.rint(fr[:, 0] / 1000.0) * 1000).astype(np.int64)  # the files carry a few ms of jitter
            f_rate = fr[:, 1]
    return SymbolCandles(
        symbol=symbol, tick=tick, qty_step=step, ts_ms=arr[:, 0].astype(np.int64),
        open=ticks[:, 0], high=ticks[:, 1], low=ticks[:, 2], close=ticks[:, 3],
        volume_lots=np.rint(arr[:, 5] / step).astype(np.int64), funding_ts_ms=f_ts, funding_rate=f_rate,
    )


def load_real(data_dir: Path | str | None = None, symbols: Sequence[str] | None = None) -> dict[str, SymbolCandles]:
    """Every symbol's candles under ``data_dir`` (default :func:`default_data_dir`), or those named.

    Raises FileNotFoundError when the directory holds no candle file.
    """
    base = Path(data_dir) if data_dir else default_data_dir()
    files = _candle_files(base)
    if not files:
        raise FileNotFoundError(f"no real candles under {base} (expected *{CANDLES_SUFFIX}; see PROVENANCE.md)")
    wanted = list(files) if symbols is None else [s for s in symbols if s in files]
    out = {}
    for sym in wanted:
        path = files[sym]
        out[sym] = load_symbol(path, sym, path.with_name(path.name.replace(CANDLES_SUFFIX, FUNDING_SUFFIX)))
    return out


def whole_days(data: dict[str, SymbolCandles], coverage: float = 0.95) -> list[int]:
    """Starts (UTC ms) of the days on which at least half the symbols have ``coverage`` of their minutes."""
    counts: dict[int, int] = {}
    need = int(math.ceil(1_440 * coverage))
    for sc in data.values():
        days, n = np.unique(sc.ts_ms // DAY_MS, return_counts=True)
        for d, k in zip(days.tolist(), n.tolist()):
            if k >= need:
                counts[d] = counts.get(d, 0) + 1
    quorum = max(1, int(math.ceil(len(data) / 2)))
    return [d * DAY_MS for d in sorted(counts) if counts[d] >= quorum]


def split_days(data: dict[str, SymbolCandles]) -> dict[str, list[int]]:
    """``{"calibration": [day starts], "held_out": [day starts]}``: the first half of the whole days
    (rounded up) calibrates, the rest is held out."""
    days = whole_days(data)
    k = (len(days) + 1) // 2
    return {"calibration": days[:k], "held_out": days[k:]}
