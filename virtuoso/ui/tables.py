"""Pure table builders: MonitorView data in, pandas DataFrames out. No Streamlit, no I/O.

Pages hand these frames to ``st.dataframe``; tests and the benchmark call them directly.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from virtuoso.domain.alerts import Alert, Severity
from virtuoso.state.snapshot import SymbolSnapshot
from virtuoso.reports import numbers
from virtuoso.ui import fmt

ACTIVE_WINDOW_MS = 3_600_000  # an alert counts as an active flag for an hour
SEVERITY_ORDER = (Severity.CRITICAL, Severity.HIGH, Severity.WATCH, Severity.INFO)

OVERVIEW_COLUMNS = [
    "symbol", "price", "chg_1h_pct", "chg_24h_pct", "oi_usd", "oi_chg_1h_pct", "funding_pct",
    "vol_vs_base", "score", "flags", "worst", "trend", "price_decimals",
]
# History each overview figure needs before it exists (minutes): shown instead of an empty cell.
NEEDS_HISTORY_MIN = {"chg_1h_pct": 60, "chg_24h_pct": 1_440, "oi_chg_1h_pct": 60, "vol_vs_base": 120}
NEEDS_LABEL = {"chg_1h_pct": "1 h change", "chg_24h_pct": "24 h change", "oi_chg_1h_pct": "OI 1 h change",
               "vol_vs_base": "Volume vs its baseline"}
UP_COLOR, DOWN_COLOR = "#2b8a3e", "#c92a2a"


def _nan(x: Any) -> float:
    return float(x) if fmt.is_num(x) else math.nan


def active_flags(alerts: Iterable[Alert], now_ms: int, window_ms: int = ACTIVE_WINDOW_MS) -> dict[str, Counter[str]]:
    """Per symbol, how many alerts of each severity were raised within the window."""
    out: dict[str, Counter[str]] = {}
    for a in alerts:
        if a.ts_event_ms >= now_ms - window_ms:
            out.setdefault(a.symbol, Counter())[a.severity.value] += 1
    return out


def flags_label(counts: Mapping[str, int]) -> str:
    """'1 critical · 2 high' (worst first), '' when none."""
    return " · ".join(f"{counts[s.value]} {s.value}" for s in SEVERITY_ORDER if counts.get(s.value))


def worst_rank(counts: Mapping[str, int]) -> int:
    """-1 when no flags, else the rank of the worst severity (3 = critical)."""
    return max((Severity(k).rank for k, n in counts.items() if n), default=-1)


def overview_frame(
    snapshots: Mapping[str, SymbolSnapshot],
    scores: Mapping[str, float],
    alerts: Sequence[Alert],
    sparklines: Mapping[str, list[float]],
    now_ms: int,
    symbols: Sequence[str] = (),
) -> pd.DataFrame:
    """The watchlist, worst first: flag severity, then composite score, then the size of the 1 h move."""
    flags = active_flags(alerts, now_ms)
    peaks: dict[str, float] = {}
    for a in alerts:
        if a.ts_event_ms >= now_ms - ACTIVE_WINDOW_MS:
            peaks[a.symbol] = max(peaks.get(a.symbol, 0.0), float(a.score))
    rows = []
    for sym in list(dict.fromkeys([*symbols, *snapshots])):
        snap = snapshots.get(sym)
        counts = flags.get(sym, Counter())
        base = _nan(snap.volume_baseline_1h) if snap else math.nan
        vol = _nan(snap.volume_1h) if snap else math.nan
        rows.append({
            "symbol": sym,
            "price": _nan(snap.last_price) if snap else math.nan,
            "chg_1h_pct": _nan(snap.change_1h_pct) if snap else math.nan,
            "chg_24h_pct": _nan(snap.change_24h_pct) if snap else math.nan,
            "oi_usd": _nan(snap.open_interest_value) if snap else math.nan,
            "oi_chg_1h_pct": _nan(snap.oi_change_1h_pct) if snap else math.nan,
            "funding_pct": _nan(snap.funding_rate) * 100 if snap else math.nan,
            "vol_vs_base": vol / base if base and base > 0 and math.isfinite(vol) else math.nan,
            # The score of the last second, or the highest of the hour's flags: a critical flag never
            # sits beside a score of 0 because the moment has passed.
            "score": max((x for x in (_nan(scores.get(sym, math.nan)), peaks.get(sym, math.nan)) if math.isfinite(x)),
                         default=math.nan),
            "flags": flags_label(counts),
            "worst": worst_rank(counts),
            "trend": [float(x) for x in sparklines.get(sym, []) if fmt.is_num(x)],
            "price_decimals": fmt.price_decimals([*sparklines.get(sym, []), snap.last_price if snap else math.nan]),
        })
    df = pd.DataFrame(rows, columns=OVERVIEW_COLUMNS)
    if df.empty:
        return df
    df["_move"] = df["chg_1h_pct"].abs().fillna(0.0)
    df = df.sort_values(["worst", "score", "_move"], ascending=False, na_position="last", kind="stable")
    return df.drop(columns="_move").reset_index(drop=True)


def _signed_pct(v: Any, digits: int = 2) -> str:
    return f"{v:+,.{digits}f} %"


def _direction_color(v: Any) -> str:
    if not fmt.is_num(v) or v == 0:
        return ""
    return f"color: {UP_COLOR if v > 0 else DOWN_COLOR}"


def _or_after(write: Any, need_min: int) -> Any:
    """A cell formatter that writes 'after 1 h' for a figure still waiting for history (-inf)."""
    label = f"after {fmt.duration(need_min)}"
    return lambda v: label if not fmt.is_num(v) else write(v)


def overview_styler(df: pd.DataFrame) -> Any:
    """The watchlist as a trader reads it: prices at tick precision with separators, OI in USD,
    percent with a sign coloured by direction, and words where a figure needs more history.

    A pandas Styler: Streamlit shows its display text and sorts by the numbers underneath.
    """
    shown = df.drop(columns=["price_decimals"])
    # The grid draws "None" for a missing cell whatever the Styler says, so a figure that needs more
    # history is stored as -inf (sorts last) and written as "after 1 h".
    for col in NEEDS_HISTORY_MIN:
        shown[col] = shown[col].fillna(-math.inf)
    styler = shown.style
    for decimals in sorted(set(df["price_decimals"])):
        rows = df.index[df["price_decimals"] == decimals]
        styler = styler.format(lambda v, d=int(decimals): fmt.price(v, d), subset=pd.IndexSlice[rows, ["price"]],
                               na_rep="–")
    for col in ("chg_1h_pct", "chg_24h_pct", "oi_chg_1h_pct"):
        styler = styler.format(_or_after(_signed_pct, NEEDS_HISTORY_MIN[col]), subset=[col])
    styler = styler.format(lambda v: _signed_pct(v, 4), subset=["funding_pct"], na_rep="–")
    styler = styler.format(fmt.usd, subset=["oi_usd"], na_rep="–")
    styler = styler.format(_or_after(lambda v: f"{v:.2f}x", NEEDS_HISTORY_MIN["vol_vs_base"]), subset=["vol_vs_base"])
    styler = styler.format(lambda v: f"{v:.0f}", subset=["score"], na_rep="–")
    return styler.map(_direction_color, subset=["chg_1h_pct", "chg_24h_pct", "oi_chg_1h_pct"])


def missing_history(df: pd.DataFrame, have_min: float | None) -> list[str]:
    """One sentence per overview figure that is still empty for every symbol, saying how much more history."""
    out = []
    for col, need in NEEDS_HISTORY_MIN.items():
        if len(df) and df[col].isna().all():
            out.append(fmt.after_history(NEEDS_LABEL[col], need, have_min))
    return out


def market_summary(df: pd.DataFrame) -> dict[str, Any]:
    """Market-wide figures for the top of the overview (numbers, NaN when unknown)."""
    if df.empty:
        return {"symbols": 0, "up_1h": 0, "down_1h": 0, "median_chg_1h_pct": math.nan,
                "flagged": 0, "max_score": math.nan, "max_score_symbol": ""}
    chg = df["chg_1h_pct"].dropna()
    scores = df["score"].dropna()
    top = df.loc[scores.idxmax(), "symbol"] if not scores.empty and scores.max() > 0 else ""
    return {
        "symbols": int(len(df)),
        "up_1h": int((chg > 0).sum()),
        "down_1h": int((chg < 0).sum()),
        "median_chg_1h_pct": float(chg.median()) if not chg.empty else math.nan,
        "flagged": int((df["worst"] >= 0).sum()),
        "max_score": float(scores.max()) if not scores.empty else math.nan,
        "max_score_symbol": str(top),
    }


ALERT_COLUMNS = ["time_utc", "symbol", "kind", "severity", "score", "message", "acknowledged", "evidence", "id",
                 "ts_event_ms", "ts_start_ms"]


def alerts_frame(alerts: Sequence[Alert], acked: set[str]) -> pd.DataFrame:
    """Alert history, newest first, with evidence flattened to 'key=value' text."""
    rows = [{
        "time_utc": fmt.utc(a.ts_event_ms),
        "symbol": a.symbol,
        "kind": a.kind.value,
        "severity": a.severity.value,
        "score": round(float(a.score), 1),
        "message": a.message,
        "acknowledged": a.id in acked,
        "evidence": evidence_text(a.evidence, " · ", a),
        "id": a.id,
        "ts_event_ms": int(a.ts_event_ms),
        "ts_start_ms": int(a.ts_start_ms or a.ts_event_ms),
    } for a in alerts]
    df = pd.DataFrame(rows, columns=ALERT_COLUMNS)
    return df.sort_values("ts_event_ms", ascending=False, kind="stable").reset_index(drop=True)


def evidence_text(evidence: Mapping[str, Any], sep: str = ", ", alert: Alert | None = None) -> str:
    """Why it fired, in words: the event's evidence lines, one per reading (older alerts that carry
    numbers only get 'name: value unit', never scientific notation)."""
    lines = list(alert.evidence_lines) if alert is not None else []
    return sep.join(lines or numbers.evidence_lines(evidence))


def filter_alerts(
    alerts: Sequence[Alert], *, symbols: Sequence[str] = (), kinds: Sequence[str] = (),
    severities: Sequence[str] = (), since_ms: int = 0, hide_ids: set[str] | None = None,
) -> list[Alert]:
    """Alerts matching every filter; an empty filter matches everything."""
    return [
        a for a in alerts
        if a.ts_event_ms >= since_ms
        and (not symbols or a.symbol in symbols)
        and (not kinds or a.kind.value in kinds)
        and (not severities or a.severity.value in severities)
        and not (hide_ids and a.id in hide_ids)
    ]


def counts_frame(counts: Mapping[str, Mapping[str, int]], kinds: Sequence[str]) -> pd.DataFrame:
    """Backtest flag counts: one row per symbol, one column per kind, plus a total."""
    rows = [{"symbol": sym, **{k: int(by_kind.get(k, 0)) for k in kinds}} for sym, by_kind in counts.items()]
    df = pd.DataFrame(rows, columns=["symbol", *kinds])
    df["total"] = df[list(kinds)].sum(axis=1).astype(int) if len(df) else pd.Series(dtype=int)
    return df.sort_values(["total", "symbol"], ascending=[False, True], kind="stable").reset_index(drop=True)


def flatten(section: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested health dicts as (dotted.key, value) rows; lists of dicts stay whole for their own table."""
    if not isinstance(section, Mapping):
        return [(prefix or "value", section)]
    rows: list[tuple[str, Any]] = []
    for k, v in section.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, Mapping) and v:
            rows.extend(flatten(v, key))
        else:
            rows.append((key, v))
    return rows


def health_frame(section: Any, now_ms: int) -> pd.DataFrame:
    """One health section as a readable two-column table (key, value)."""
    rows = [(k, fmt.value(k.rsplit(".", 1)[-1], v, now_ms)) for k, v in flatten(section)
            if not (isinstance(v, list) and v and isinstance(v[0], Mapping))]
    return pd.DataFrame(rows, columns=["key", "value"])


def health_lists(section: Any) -> dict[str, pd.DataFrame]:
    """Lists of records inside a health section (per-stream stats, recent errors) as tables."""
    out: dict[str, pd.DataFrame] = {}
    for k, v in flatten(section):
        if isinstance(v, list) and v and isinstance(v[0], Mapping):
            out[k] = pd.DataFrame([dict(x) for x in v])
    return out


def health_problems(health: Mapping[str, Any]) -> list[str]:
    """What is broken, in one line each, for the banner on every page: a part that reports a
    ``problem`` (the store: a deleted or unwritable data directory) or a sink in ``error`` state
    (the relay that could not bind its port)."""
    out: list[str] = []

    def walk(section: Any, path: str) -> None:
        if not isinstance(section, Mapping):
            return
        if section.get("problem"):
            out.append(f"{path}: {section['problem']}")
        if section.get("state") == "error":
            out.append(f"{path}: {section.get('last_error') or 'failed'}")
        for k, v in section.items():
            if isinstance(v, Mapping) and k not in ("errors",):
                walk(v, f"{path} {k}".strip())

    for name in ("storage", "sinks", "source", "pipeline"):
        walk(health.get(name), {"sinks": ""}.get(name, name))
    return [p.strip()[:1].upper() + p.strip()[1:] for p in dict.fromkeys(out)]
