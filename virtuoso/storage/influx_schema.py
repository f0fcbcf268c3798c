"""How bars and alerts are laid out in InfluxDB, and the InfluxQL that reads them back (pure).

Measurements (documented in docs/storage.md):

- ``bars_1m``: tag ``symbol``; time = ``start_ms``; float fields ``open high low close volume
  turnover buy_volume sell_volume open_interest funding_rate long_liq_volume short_liq_volume block_volume max_print_volume``
  (always floats, NaN left out), int fields ``trade_count interval_s``, bool ``simulated``.
  Same symbol and start_ms is the same point, so a re-write overwrites it (an upsert).
- ``alerts``: tags ``symbol`` and ``kind`` (bounded cardinality: watchlist x 6 kinds); time =
  ``ts_event_ms``; fields ``id severity message evidence`` (evidence as a JSON string), ``score``
  (float), ``simulated`` (bool), ``written_ms`` (int). The id is a *field*, not a tag: an id tag
  would make one series per alert, an unbounded series count. A re-publish of an alert at the same
  ``ts_event_ms`` overwrites the point; one at a new time is a second point with the same id, and
  readers keep the most recently written one (``written_ms``, then severity, then time).
"""

from __future__ import annotations

import json
from functools import lru_cache
from math import isfinite
from typing import Any, Iterable, Mapping, Sequence

from virtuoso.domain.alerts import Alert, AlertKind, Change, Severity
from virtuoso.domain.bars import Bar
from virtuoso.storage.line_protocol import decode_tag_value, encode_tag_value, escape_key, format_line

BARS = "bars_1m"
ALERTS = "alerts"
NAN = float("nan")

_BAR_FLOATS = ("open", "high", "low", "close", "volume", "turnover", "buy_volume", "sell_volume",
               "open_interest", "funding_rate", "long_liq_volume", "short_liq_volume", "block_volume",
               "max_print_volume")


def bar_line(bar: Bar) -> str:
    """One ``bars_1m`` point; every float field is written as a float, NaN fields are left out.

    The hot path of bulk writes (REST backfill, the benchmark), so it formats directly instead of
    going through :func:`format_line`; the unit tests check both give the same line.
    """
    values = (bar.open, bar.high, bar.low, bar.close, bar.volume, bar.turnover, bar.buy_volume, bar.sell_volume,
              bar.open_interest, bar.funding_rate, bar.long_liq_volume, bar.short_liq_volume,
              bar.block_volume, bar.max_print_volume)
    floats = ",".join([f"{k}={float(v)!r}" for k, v in zip(_BAR_FLOATS, values) if isfinite(v)])
    if floats:
        floats += ","
    flag = "true" if bar.simulated else "false"
    return (f"{_bar_head(bar.symbol)} {floats}trade_count={int(bar.trade_count)}i,"
            f"interval_s={int(bar.interval_s)}i,simulated={flag} {int(bar.start_ms)}")


@lru_cache(maxsize=4_096)
def _bar_head(symbol: str) -> str:
    """Measurement and escaped tag set for one symbol (few symbols, many bars: cached)."""
    return f"{BARS},symbol={escape_key(encode_tag_value(symbol))}"


def alert_line(alert: Alert, written_ms: int) -> str:
    """One ``alerts`` point; ``written_ms`` orders re-publications of the same id."""
    evidence = json.dumps(dict(alert.evidence), default=str, separators=(",", ":"), allow_nan=True)
    fields: list[tuple[str, Any]] = [
        ("id", str(alert.id)), ("severity", alert.severity.value), ("score", float(alert.score)),
        ("evidence", evidence), ("message", str(alert.message)), ("simulated", bool(alert.simulated)),
        ("written_ms", int(written_ms)), ("ts_start_ms", int(alert.ts_start_ms)), ("change", alert.change.value),
        ("direction", int(alert.direction)),
    ]
    return format_line(ALERTS, {"symbol": alert.symbol, "kind": alert.kind.value}, fields, int(alert.ts_event_ms))


def _f(v: Any) -> float:
    return NAN if v is None else float(v)


def bar_from_record(rec: Mapping[str, Any]) -> Bar:
    """A Bar from one row (columns by name: ``time``, decoded ``symbol``, fields); missing -> NaN."""
    return Bar(
        symbol=str(rec["symbol"]), start_ms=int(rec["time"]), interval_s=int(rec.get("interval_s") or 60),
        open=_f(rec.get("open")), high=_f(rec.get("high")), low=_f(rec.get("low")), close=_f(rec.get("close")),
        volume=_f(rec.get("volume")), turnover=_f(rec.get("turnover")), trade_count=int(rec.get("trade_count") or 0),
        buy_volume=_f(rec.get("buy_volume")), sell_volume=_f(rec.get("sell_volume")),
        open_interest=_f(rec.get("open_interest")), funding_rate=_f(rec.get("funding_rate")),
        long_liq_volume=_f(rec.get("long_liq_volume")), short_liq_volume=_f(rec.get("short_liq_volume")),
        simulated=bool(rec.get("simulated") or False),
        block_volume=float(rec.get("block_volume") or 0.0), max_print_volume=float(rec.get("max_print_volume") or 0.0),
    )


def alert_from_record(rec: Mapping[str, Any]) -> tuple[int, Alert]:
    """(written_ms, Alert) from one row; evidence decoded from its JSON string."""
    evidence = rec.get("evidence")
    alert = Alert(
        id=str(rec["id"]), symbol=str(rec["symbol"]), kind=AlertKind(rec["kind"]),
        severity=Severity(rec["severity"]), score=_f(rec.get("score")), ts_event_ms=int(rec["time"]),
        evidence=json.loads(evidence) if evidence else {}, message=str(rec.get("message") or ""),
        simulated=bool(rec.get("simulated") or False), ts_start_ms=int(rec.get("ts_start_ms") or 0),
        change=Change(rec.get("change") or "new"), direction=int(rec.get("direction") or 0),
    )
    return int(rec.get("written_ms") or 0), alert


def latest_alerts(versions: Iterable[tuple[int, Alert]]) -> list[Alert]:
    """One alert per id: the latest written, then the most severe, then the latest; oldest first.

    ``versions`` in write order: for equal keys a later entry wins (pending points after stored).
    """
    best: dict[str, tuple[tuple[int, int, int], Alert]] = {}
    for written_ms, a in versions:
        key = (written_ms, a.severity.rank, a.ts_event_ms)
        cur = best.get(a.id)
        if cur is None or key >= cur[0]:
            best[a.id] = (key, a)
    return sorted((a for _, a in best.values()), key=lambda a: (a.ts_event_ms, a.id))


def records(series: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Flatten InfluxDB JSON series (``columns`` + ``values``) to dicts, decoding tag values."""
    out = []
    for s in series:
        cols = s.get("columns") or []
        for row in s.get("values") or []:
            rec = dict(zip(cols, row))
            if isinstance(rec.get("symbol"), str):
                rec["symbol"] = decode_tag_value(rec["symbol"])
            out.append(rec)
    return out


def record_from_fields(tags: Mapping[str, str], fields: Mapping[str, Any], time_ms: int) -> dict[str, Any]:
    """The same dict shape from a parsed line (spilled points), so one decoder serves both."""
    return {**fields, **tags, "time": time_ms}


# ---------------------------------------------------------------------- InfluxQL


def quote_ident(name: str) -> str:
    """An InfluxQL identifier in double quotes (backslash, quote and newline escaped)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def quote_string(value: str) -> str:
    """An InfluxQL string literal in single quotes (backslash, quote and newline escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def _time_range(start_ms: int, end_ms: int) -> str:
    return f"time >= {int(start_ms)}ms AND time < {int(end_ms)}ms"


def bars_query(symbol: str, start_ms: int, end_ms: int) -> str:
    """All fields of one symbol's bars with start in [start_ms, end_ms), oldest first."""
    return (f"SELECT * FROM {quote_ident(BARS)} WHERE {quote_ident('symbol')} = "
            f"{quote_string(encode_tag_value(symbol))} AND {_time_range(start_ms, end_ms)} ORDER BY time ASC")


def alerts_query(start_ms: int, end_ms: int, symbols: Sequence[str] | None) -> str:
    """Alerts with ts_event_ms in [start_ms, end_ms), optionally for some symbols, oldest first."""
    where = _time_range(start_ms, end_ms)
    if symbols is not None:
        ors = " OR ".join(f"{quote_ident('symbol')} = {quote_string(encode_tag_value(s))}" for s in symbols)
        where += f" AND ({ors})"
    return f"SELECT * FROM {quote_ident(ALERTS)} WHERE {where} ORDER BY time ASC"

