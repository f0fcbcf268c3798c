"""Report composition (pure): stored bars, alerts, thresholds and health -> a frozen report model.

No I/O and no rendering here: :func:`compose` takes everything it needs in a
:class:`ReportInputs` and returns a :class:`Report` whose strings are *plain text* (the renderer
escapes every one of them). The report is SIMULATED when the source is simulated or any bar or
alert in it is; a report only says REAL when nothing in it came from the simulator.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

from virtuoso.detect.baselines import VOLUME_MINUTES
from virtuoso.config import AlertPolicySettings, DetectionSettings
from virtuoso.domain.alerts import Alert
from virtuoso.domain.bars import Bar
from virtuoso.reports import numbers
from virtuoso.reports.outcomes import OutcomeSection, compose_outcomes

ALERT_ROWS_MAX = 400  # more than this go to a note; a PDF table of thousands helps nobody
EVIDENCE_CHARS_MAX = 400  # whole evidence lines up to this; the first line is always kept whole
RESAMPLE_ABOVE_MIN = 6 * 60  # periods longer than 6 h chart 5-minute buckets
RESAMPLE_BUCKET_MIN = 5


@dataclass(frozen=True, slots=True)
class ReportInputs:
    """What the report is built from; the export gathers it from a MonitorView."""

    start_ms: int
    end_ms: int
    generated_ms: int
    symbols: tuple[str, ...]
    source_name: str
    source_simulated: bool
    source_reason: str
    bars: Mapping[str, Sequence[Bar]]
    alerts: Sequence[Alert]
    thresholds: DetectionSettings
    policy: AlertPolicySettings
    health: Mapping[str, Any] = field(default_factory=dict)
    composite_scores: Mapping[str, float] = field(default_factory=dict)
    outcomes: Sequence[Any] = ()  # virtuoso.alerting.outcomes.Outcome of the period's events (delivery)
    hit_multiple: float = 2.0


@dataclass(frozen=True, slots=True)
class SymbolSection:
    """One symbol: figures for the summary and the (possibly resampled) bars its charts draw."""

    symbol: str
    bars: tuple[Bar, ...]  # chart bars, oldest first (5-minute buckets for long periods)
    bar_minutes: int
    alerts: tuple[Alert, ...]
    minutes_with_data: int
    gaps: int  # missing stretches of one or more minutes between stored bars
    first_price: float
    last_price: float
    change_pct: float
    high: float
    low: float
    volume: float
    max_minute_volume: float
    median_minute_volume: float
    avg_trade_size: float
    buy_share_pct: float
    oi_change_pct: float
    long_liq_usd: float
    short_liq_usd: float
    simulated: bool
    turnover_usd: float = math.nan  # traded value in USD over the period
    avg_trade_usd: float = math.nan  # traded value per trade, USD
    price_decimals: int = 2  # the instrument's tick precision, read from its prices


@dataclass(frozen=True, slots=True)
class AlertRow:
    time_utc: str
    symbol: str
    kind: str
    severity: str
    score: str
    evidence: str


@dataclass(frozen=True, slots=True)
class OutlookRow:
    symbol: str
    composite_score: float
    flags: str  # kinds in force, or "none"


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    value: str
    unit: str
    description: str


@dataclass(frozen=True, slots=True)
class Report:
    """The whole report, ready to render. Every string is plain text."""

    title: str
    period_start_utc: str
    period_end_utc: str
    hours: float
    generated_utc: str
    symbols: tuple[str, ...]
    simulated: bool
    source_label: str  # "SIMULATED" | "REAL"
    source_name: str
    source_reason: str
    fingerprint: str
    market_overview: tuple[str, ...]
    institutional: tuple[str, ...]
    outlook: tuple[str, ...]
    outlook_rows: tuple[OutlookRow, ...]
    outlook_score_source: str
    sections: tuple[SymbolSection, ...]
    alert_rows: tuple[AlertRow, ...]
    alerts_total: int
    thresholds: tuple[Setting, ...]
    policy: tuple[Setting, ...]
    health: tuple[tuple[str, str, str], ...]  # (area, item, value)
    volume_baseline_min: int
    outcomes: OutcomeSection | None = None  # the Alert outcomes section (virtuoso.reports.outcomes)


def utc(ms: int, zone: bool = True) -> str:
    """Milliseconds since the epoch as UTC text (``zone=False`` drops the " UTC", for table columns)."""
    dt = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%d %H:%M:%S UTC" if zone else "%Y-%m-%d %H:%M:%S")


def settings_fingerprint(thresholds: DetectionSettings, policy: AlertPolicySettings) -> str:
    """Short stable hash of the thresholds and alert policy, so two reports can be compared."""
    raw = json.dumps({"detection": thresholds.model_dump(mode="json"), "policy": policy.model_dump(mode="json")},
                     sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()[:12]


def _finite(xs: Sequence[float]) -> list[float]:
    return [x for x in xs if isinstance(x, (int, float)) and math.isfinite(x)]


def _pct(a: float, b: float) -> float:
    return (b / a - 1.0) * 100.0 if math.isfinite(a) and math.isfinite(b) and a != 0 else math.nan


def resample(bars: Sequence[Bar], bucket_min: int) -> tuple[Bar, ...]:
    """Fold 1-minute bars into ``bucket_min`` buckets aligned to the epoch (sums, OHLC, last OI)."""
    if bucket_min <= 1 or not bars:
        return tuple(bars)
    width_ms = bucket_min * 60_000
    out: list[Bar] = []
    group: list[Bar] = []
    for b in bars:
        if group and b.start_ms // width_ms != group[0].start_ms // width_ms:
            out.append(_fold(group, width_ms))
            group = []
        group.append(b)
    if group:
        out.append(_fold(group, width_ms))
    return tuple(out)


def _fold(group: list[Bar], width_ms: int) -> Bar:
    oi = _finite([b.open_interest for b in group])
    fr = _finite([b.funding_rate for b in group])
    return Bar(
        symbol=group[0].symbol, start_ms=group[0].start_ms // width_ms * width_ms, interval_s=width_ms // 1000,
        open=group[0].open, high=max(b.high for b in group), low=min(b.low for b in group), close=group[-1].close,
        volume=sum(b.volume for b in group), turnover=sum(b.turnover for b in group),
        trade_count=sum(b.trade_count for b in group), buy_volume=sum(b.buy_volume for b in group),
        sell_volume=sum(b.sell_volume for b in group), open_interest=oi[-1] if oi else math.nan,
        funding_rate=fr[-1] if fr else math.nan, long_liq_volume=sum(b.long_liq_volume for b in group),
        short_liq_volume=sum(b.short_liq_volume for b in group), simulated=any(b.simulated for b in group),
    )


def count_gaps(bars: Sequence[Bar]) -> int:
    """Stretches of at least one missing minute between consecutive stored bars."""
    return sum(1 for a, b in zip(bars, bars[1:]) if b.start_ms - a.start_ms > max(a.interval_s, 1) * 1000)


def _section(symbol: str, bars: Sequence[Bar], alerts: Sequence[Alert], period_min: float) -> SymbolSection:
    bars = sorted(bars, key=lambda b: b.start_ms)
    bucket = RESAMPLE_BUCKET_MIN if period_min > RESAMPLE_ABOVE_MIN else 1
    closes = _finite([b.close for b in bars])
    vols = [b.volume for b in bars]
    oi = _finite([b.open_interest for b in bars])
    trades = sum(b.trade_count for b in bars)
    buy = sum(b.buy_volume for b in bars)
    sell = sum(b.sell_volume for b in bars)
    first = closes[0] if closes else math.nan
    last = closes[-1] if closes else math.nan
    return SymbolSection(
        symbol=symbol,
        bars=resample(bars, bucket),
        bar_minutes=bucket,
        alerts=tuple(alerts),
        minutes_with_data=len(bars),
        gaps=count_gaps(bars),
        first_price=first,
        last_price=last,
        change_pct=_pct(first, last),
        high=max(_finite([b.high for b in bars]), default=math.nan),
        low=min(_finite([b.low for b in bars]), default=math.nan),
        volume=sum(vols),
        max_minute_volume=max(vols, default=0.0),
        median_minute_volume=statistics.median(vols) if vols else 0.0,
        avg_trade_size=sum(vols) / trades if trades else math.nan,
        buy_share_pct=buy / (buy + sell) * 100.0 if buy + sell > 0 else math.nan,
        oi_change_pct=_pct(oi[0], oi[-1]) if oi else math.nan,
        long_liq_usd=sum(b.long_liq_volume * b.close for b in bars if math.isfinite(b.close)),
        short_liq_usd=sum(b.short_liq_volume * b.close for b in bars if math.isfinite(b.close)),
        simulated=any(b.simulated for b in bars) or any(a.simulated for a in alerts),
        turnover_usd=sum(b.turnover for b in bars if math.isfinite(b.turnover)),
        avg_trade_usd=sum(b.turnover for b in bars if math.isfinite(b.turnover)) / trades if trades else math.nan,
        price_decimals=numbers.price_decimals([*closes[-240:], *_finite([b.high for b in bars[-240:]])]),
    )


def num(x: float, digits: int = 2, suffix: str = "") -> str:
    """A number for the report, or an en dash when it is missing."""
    if not isinstance(x, (int, float)) or not math.isfinite(x):
        return "\u2013"
    if abs(x) >= 1_000_000:
        return f"{x / 1_000_000:,.{digits}f}M{suffix}"
    return f"{x:,.{digits}f}{suffix}"


def signed_pct(x: float) -> str:
    return "\u2013" if not math.isfinite(x) else f"{x:+.2f}%"


def _market_overview(sections: Sequence[SymbolSection], hours: float) -> tuple[str, ...]:
    have = [s for s in sections if math.isfinite(s.change_pct)]
    lines = [f"{len(sections)} symbols over the last {hours:g} h; {len(have)} with price data."]
    if have:
        best = max(have, key=lambda s: s.change_pct)
        worst = min(have, key=lambda s: s.change_pct)
        med = statistics.median(s.change_pct for s in have)
        up = sum(1 for s in have if s.change_pct > 0)
        lines.append(f"Strongest: {best.symbol} {signed_pct(best.change_pct)}; weakest: {worst.symbol} "
                     f"{signed_pct(worst.change_pct)}; median change {signed_pct(med)}; {up} of {len(have)} up.")
        ranges = [((s.high / s.low - 1) * 100, s.symbol) for s in have if s.low > 0 and math.isfinite(s.high)]
        if ranges:
            r, sym = max(ranges)
            lines.append(f"Widest high-low range: {sym} {r:.2f}%.")
    gaps = sum(s.gaps for s in sections)
    if gaps:
        lines.append(f"Stored history has {gaps} gap(s) of one minute or more across the watchlist.")
    return tuple(lines)


def _institutional(sections: Sequence[SymbolSection]) -> tuple[str, ...]:
    lines: list[str] = []
    oi = [s for s in sections if math.isfinite(s.oi_change_pct)]
    if oi:
        top = max(oi, key=lambda s: abs(s.oi_change_pct))
        rising = sum(1 for s in oi if s.oi_change_pct > 0)
        lines.append(f"Open interest rose on {rising} of {len(oi)} symbols; largest move {top.symbol} "
                     f"{signed_pct(top.oi_change_pct)}.")
    else:
        lines.append("No open interest in the stored data.")
    spikes = [(s.max_minute_volume / s.median_minute_volume, s) for s in sections if s.median_minute_volume > 0]
    if spikes:
        ratio, s = max(spikes, key=lambda t: t[0])
        lines.append(f"Large trades: per-trade prints are not stored; the busiest minute was {s.symbol} at "
                     f"{ratio:.1f}x its median minute volume (average trade {numbers.amount(s.avg_trade_usd)}).")
    liq = sum(s.long_liq_usd + s.short_liq_usd for s in sections)
    if liq > 0:
        longs = sum(s.long_liq_usd for s in sections)
        shorts = sum(s.short_liq_usd for s in sections)
        top_liq = max(sections, key=lambda s: s.long_liq_usd + s.short_liq_usd)
        # The share never rounds a side away: 185 M long beside 228 k short is 99.9 %, not 100 %.
        lines.append(f"Liquidations: {numbers.amount(liq)} in all, {numbers.share_pct(longs, liq)} longs "
                     f"({numbers.amount(longs)} of longs, {numbers.amount(shorts)} of shorts); most on "
                     f"{top_liq.symbol} ({numbers.amount(top_liq.long_liq_usd + top_liq.short_liq_usd)}).")
    else:
        lines.append("Liquidations: none recorded in the period.")
    return tuple(lines)


def _outlook(inputs: ReportInputs, alerts: Sequence[Alert], sections: Sequence[SymbolSection]) -> tuple[tuple[str, ...], tuple[OutlookRow, ...], str]:
    in_force_from = inputs.end_ms - inputs.policy.cooldown_s * 1000
    live = {k: float(v) for k, v in inputs.composite_scores.items() if isinstance(v, (int, float)) and math.isfinite(v)}
    from_engine = any(v > 0 for v in live.values())
    rows: list[OutlookRow] = []
    for s in sections:
        flags = sorted({a.kind.value for a in s.alerts if a.ts_event_ms >= in_force_from})
        if from_engine:
            score = live.get(s.symbol, 0.0)
        else:
            recent = [a.score for a in s.alerts if a.ts_event_ms >= in_force_from]
            score = max(recent, default=0.0)
        rows.append(OutlookRow(s.symbol, score, ", ".join(flags) if flags else "none"))
    source = ("composite scores from the running detectors" if from_engine else
              f"highest alert score within the {inputs.policy.cooldown_s} s cooldown before the period end")
    flagged = [r for r in rows if r.flags != "none"]
    lines = [f"{len(flagged)} of {len(rows)} symbols have flags in force (alerts in the last "
             f"{inputs.policy.cooldown_s} s of the period)."]
    if rows:
        top = max(rows, key=lambda r: r.composite_score)
        if top.composite_score > 0:
            lines.append(f"Highest composite score: {top.symbol} at {top.composite_score:.0f}/100.")
    total = len(alerts)
    if total:
        by_sev: dict[str, int] = {}
        for a in alerts:
            by_sev[a.severity.value] = by_sev.get(a.severity.value, 0) + 1
        lines.append(f"{total} alerts in the period: " + ", ".join(f"{n} {k}" for k, n in sorted(by_sev.items())) + ".")
    else:
        lines.append("No alerts in the period.")
    return tuple(lines), tuple(rows), source


def _evidence(ev: Mapping[str, Any]) -> str:
    return numbers.evidence_summary(ev, EVIDENCE_CHARS_MAX)


def _settings_rows(model: Any) -> tuple[Setting, ...]:
    rows = []
    for name, f in type(model).model_fields.items():
        extra = f.json_schema_extra if isinstance(f.json_schema_extra, dict) else {}
        value = getattr(model, name)
        rows.append(Setting(name, f"{value:g}" if isinstance(value, float) else str(value),
                            str(extra.get("unit", "")), f.description or ""))
    return tuple(rows)


_HEALTH_KEYS = ("gap", "reconnect", "malformed", "dropped", "stale", "fail", "error", "backlog", "sent", "state",
                "messages", "written")


def _health_rows(health: Mapping[str, Any]) -> tuple[tuple[str, str, str], ...]:
    """Gaps, reconnects and delivery failures from the ``source``, ``pipeline`` and ``sinks`` sections."""
    rows: list[tuple[str, str, str]] = []

    def scalars(area: str, d: Mapping[str, Any]) -> None:
        for k, v in d.items():
            if isinstance(v, Mapping):
                continue
            if isinstance(v, (list, tuple)) or not any(key in str(k).lower() for key in _HEALTH_KEYS):
                continue
            rows.append((area, str(k), str(v)[:120]))

    src = health.get("source")
    if isinstance(src, Mapping):
        for k in ("name", "reason"):
            if k in src:
                rows.append(("source", k, str(src[k])[:160]))
        scalars("source", src)
    pipe = health.get("pipeline")
    if isinstance(pipe, Mapping):
        scalars("pipeline", pipe)
    sinks = health.get("sinks")
    if isinstance(sinks, Mapping):
        scalars("sinks", sinks)
        for name, sub in sinks.items():
            if isinstance(sub, Mapping):
                scalars(f"sinks.{name}", sub)
    errors = health.get("errors")
    if isinstance(errors, (list, tuple)):
        rows.append(("errors", "recent warnings", str(len(errors))))
    return tuple(rows)


def compose(inputs: ReportInputs) -> Report:
    """Build the report model. Deterministic: the same inputs give the same report."""
    period_min = max(0.0, (inputs.end_ms - inputs.start_ms) / 60_000)
    hours = round(period_min / 60, 2)
    symbols = tuple(dict.fromkeys(inputs.symbols))
    alerts = sorted((a for a in inputs.alerts if inputs.start_ms <= a.ts_event_ms <= inputs.end_ms),
                    key=lambda a: (a.ts_event_ms, a.id))
    by_symbol: dict[str, list[Alert]] = {s: [] for s in symbols}
    for a in alerts:
        if a.symbol in by_symbol:
            by_symbol[a.symbol].append(a)
    alerts = [a for a in alerts if a.symbol in by_symbol]
    sections = tuple(
        _section(s, [b for b in inputs.bars.get(s, ()) if inputs.start_ms <= b.start_ms < inputs.end_ms],
                 by_symbol[s], period_min)
        for s in symbols
    )
    simulated = inputs.source_simulated or any(s.simulated for s in sections)
    outlook, outlook_rows, score_source = _outlook(inputs, alerts, sections)
    rows = tuple(
        AlertRow(utc(a.ts_event_ms, zone=False), a.symbol, a.kind.value, a.severity.value, f"{a.score:.0f}", _evidence(a.evidence))
        for a in alerts[-ALERT_ROWS_MAX:]
    )
    return Report(
        title="Virtuoso market report",
        period_start_utc=utc(inputs.start_ms),
        period_end_utc=utc(inputs.end_ms),
        hours=hours,
        generated_utc=utc(inputs.generated_ms),
        symbols=symbols,
        simulated=simulated,
        source_label="SIMULATED" if simulated else "REAL",
        source_name=inputs.source_name,
        source_reason=inputs.source_reason,
        fingerprint=settings_fingerprint(inputs.thresholds, inputs.policy),
        market_overview=_market_overview(sections, hours),
        institutional=_institutional(sections),
        outlook=outlook,
        outlook_rows=outlook_rows,
        outlook_score_source=score_source,
        sections=sections,
        alert_rows=rows,
        alerts_total=len(alerts),
        thresholds=_settings_rows(inputs.thresholds),
        policy=_settings_rows(inputs.policy),
        health=_health_rows(inputs.health),
        volume_baseline_min=VOLUME_MINUTES,  # the detectors' usual volume is the median of this many minutes
        outcomes=compose_outcomes(inputs.outcomes, inputs.start_ms, inputs.end_ms, symbols, inputs.hit_multiple),
    )
