"""``virtuoso evaluate``: score the detectors per liquidity tier on simulated, quiet and real-candle runs.

Three backgrounds, each scored with :mod:`virtuoso.detect.evaluation` (events, matching rules in
docs/detection.md) and reported pooled and per liquidity tier against the issue's targets:

- **simulated**: randomised markets (BTCUSDT + two names per tier) with labelled manipulation
  and hard negatives; held-out seeds from 1000 (lower seeds are tuning seeds, labelled so);
- **quiet**: the same kind of market with no manipulation planted (false alarms only);
- **real**: the real-candle background (``../shared/data/real``), one run per held-out day
  (``--part calibration`` runs the calibration days instead, labelled so); ``--real-planted``
  adds a run per day with manipulation planted on the real background.

Runs go through a process pool (``--jobs``, default 2); wall and CPU time are printed.
``--score ALERTS.jsonl --labels LABELS.json`` scores files instead, as an outside benchmark would
(``virtuoso simulate ... --labels`` then ``virtuoso replay FILE --alerts-out``).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from virtuoso.config import SettingsError, load_settings

HELD_OUT_FROM = 1000  # seeds below are tuning seeds; scores from seeds from here on are held out
QUIET_SEED_OFFSET = 500  # quiet runs use seeds first_seed + 500 ..., disjoint from the normal ones


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="score the detectors per liquidity tier: simulated, quiet and real-candle runs")
    p.add_argument("--seeds", type=int, default=None, help="simulated runs with manipulation (seeds FIRST, FIRST+1, ...; 3)")
    p.add_argument("--quiet-seeds", type=int, default=None, help="simulated runs with nothing planted (seeds FIRST+500, ...; 3)")
    p.add_argument("--first-seed", type=int, default=HELD_OUT_FROM)
    p.add_argument("--hours", type=float, default=None, help="simulated hours scored per run (24)")
    p.add_argument("--episodes-per-hour", type=float, default=None, help="per symbol (0.5)")
    p.add_argument("--per-tier", type=int, default=None, help="simulated names per liquidity tier, plus BTCUSDT (2)")
    p.add_argument("--symbols", default=None, help="simulated watchlist instead of the tiered one")
    p.add_argument("--warmup-hours", type=float, default=None, help="unscored history before every run (1)")
    p.add_argument("--real-days", type=int, default=None, help="real-candle days to score, 0 for none (14: all held out)")
    p.add_argument("--real-hours", type=float, default=None, help="hours scored of each real day (24)")
    p.add_argument("--part", choices=("held_out", "calibration"), default="held_out", help="which real days")
    p.add_argument("--real-data", type=Path, default=None, help="real candles directory (default ../shared/data/real)")
    p.add_argument("--real-planted", action="store_true", help="also plant manipulation on each real day (recall)")
    p.add_argument("--jobs", type=int, default=2, help="worker processes")
    p.add_argument("--quick", action="store_true",
                   help="defaults for a look in minutes: 1 + 1 simulated seeds x 4 h (1 name per tier, 2 episodes "
                        "per symbol-hour), one real day x 3 h")
    p.add_argument("--json", action="store_true", help="print every figure as one JSON line at the end")
    p.add_argument("--score", type=Path, default=None, help="score this alerts JSONL (from replay --alerts-out)")
    p.add_argument("--labels", type=Path, default=None, help="labels JSON for --score (from simulate)")
    p.add_argument("--warmup-s", type=float, default=None, help="for --score: unscored seconds (default: the "
                   "labels file's scored_from_ms, else 3600)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.score is not None:
        return score_files(args)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"evaluate: {exc}", file=sys.stderr)
        return 2
    _defaults(args)
    from virtuoso.app.commands.evaluate_runs import RunSpec, run_all

    wall0, cpu0 = time.perf_counter(), time.process_time()
    warmup_s = args.warmup_hours * 3600
    symbols = tuple(s.strip().upper() for s in args.symbols.split(",") if s.strip()) if args.symbols else ()
    moves = settings.simulator.market_moves_per_day
    specs = [RunSpec("simulated", args.first_seed + i, args.hours + args.warmup_hours, args.episodes_per_hour,
                     args.per_tier, symbols, moves, warmup_s) for i in range(args.seeds)]
    specs += [RunSpec("quiet", args.first_seed + QUIET_SEED_OFFSET + i, args.hours + args.warmup_hours, 0.0,
                      args.per_tier, symbols, moves, warmup_s) for i in range(args.quiet_seeds)]
    notes: list[str] = []
    specs += _real_specs(args, warmup_s, notes)

    def progress(r: Any, done: int, total: int) -> None:
        print(f"  [{done}/{total}] {r.spec.background} seed {r.spec.seed}: {r.messages:,} messages, "
              f"{len(r.lines):,} alert lines, {r.cpu_s:.0f} s cpu", file=sys.stderr)

    results = run_all(specs, settings, max(1, args.jobs), progress)
    boards = _score(results, args)
    wall = time.perf_counter() - wall0
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time() - cpu0 + (children.ru_utime + children.ru_stime if args.jobs > 1 else 0.0)
    print(f"detection evaluation: {len(specs)} run(s), {args.jobs} job(s), wall {wall:.0f} s, cpu {cpu:.0f} s")
    for note in notes:
        print(note)
    for board, title in boards:
        print()
        print(render(board, title))
    if args.json:
        print(json.dumps(_clean({"wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
                                 "boards": [b.to_dict() for b, _ in boards]})))
    return 0


FULL = {"seeds": 3, "quiet_seeds": 3, "hours": 24.0, "episodes_per_hour": 0.5, "per_tier": 2, "warmup_hours": 1.0,
        "real_days": 14, "real_hours": 24.0}
QUICK = {**FULL, "seeds": 1, "quiet_seeds": 1, "hours": 4.0, "episodes_per_hour": 2.0, "per_tier": 1, "real_days": 1,
         "real_hours": 3.0}


def _defaults(args: argparse.Namespace) -> None:
    """Fill what the user did not set: from QUICK with ``--quick``, else FULL."""
    for k, v in (QUICK if args.quick else FULL).items():
        if getattr(args, k) is None:
            setattr(args, k, v)


def _real_specs(args: argparse.Namespace, warmup_s: float, notes: list[str]) -> list[Any]:
    from virtuoso.app.commands.evaluate_runs import RunSpec

    if args.real_days <= 0:
        return []
    from virtuoso.ingest.candles import default_data_dir, load_real, split_days

    data_dir = args.real_data or default_data_dir()
    try:
        days = split_days(load_real(data_dir))[args.part][: args.real_days]
    except (FileNotFoundError, OSError, ValueError) as exc:
        notes.append(f"real-candle background skipped: {exc}")
        return []
    kinds = ["real", "real-planted"] if args.real_planted else ["real"]
    return [RunSpec(k, args.first_seed + i, args.real_hours, args.episodes_per_hour if k == "real-planted" else 0.0,
                    warmup_s=warmup_s, day_ms=d, data_dir=str(data_dir)) for i, d in enumerate(days) for k in kinds]


def _score(results: Sequence[Any], args: argparse.Namespace) -> list[tuple[Any, str]]:
    from virtuoso.detect.evaluation import Scoreboard

    held = args.first_seed >= HELD_OUT_FROM
    seeds = "held-out seeds" if held else "tuning seeds: NOT a held-out figure"
    part = "held-out days" if args.part == "held_out" else "calibration days: NOT a held-out figure"
    boards: dict[str, Scoreboard] = {}
    titles: dict[str, str] = {}
    for r in results:
        bg = r.spec.background
        board = boards.setdefault(bg, Scoreboard(bg, held_out=held if bg in ("simulated", "quiet") else args.part == "held_out"))
        board.add_run(r.lines, r.labels, r.tiers, r.start_ms, r.end_ms, r.spec.warmup_s)
    for bg, board in boards.items():
        runs = [r for r in results if r.spec.background == bg]
        if bg in ("simulated", "quiet"):
            ids = sorted(r.spec.seed for r in runs)
            titles[bg] = (f"{bg} ({'nothing planted' if bg == 'quiet' else 'manipulation planted'}), {seeds} "
                          f"{ids[0]}-{ids[-1]}: {len(runs)} run(s) x {args.hours:g} h, {len(runs[0].tiers)} symbols each")
        else:
            titles[bg] = (f"{bg}-candle background{' + planted manipulation' if bg == 'real-planted' else ''}, "
                          f"{part}: {len(runs)} day(s) x {args.real_hours:g} h, {len(runs[0].tiers)} symbols "
                          f"(alarms on a real market may be real events)")
    order = [b for b in ("simulated", "quiet", "real", "real-planted") if b in boards]
    return [(boards[b], titles[b]) for b in order]


def render(board: Any, title: str) -> str:
    """A board as a Markdown table: one column per tier, a mark for each figure against its target."""
    from virtuoso.detect.evaluation import MANIPULATION_KINDS, TARGETS

    cols = [None, *board.tiers()]
    figs = [board.figures(t) for t in cols]
    head = ["figure", "target", "all", *[t for t in cols[1:]]]
    rows = [f"### {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    labelled = any(sum(f["labels"].values()) for f in figs)

    def row(name: str, target: str, cells: list[str]) -> None:
        rows.append(f"| {name} | {target} | " + " | ".join(cells) + " |")

    def mark(x: float, ok: bool | None) -> str:
        return "" if ok is None or x != x else (" ✓" if ok else " ✗")

    if labelled:
        for k in MANIPULATION_KINDS:
            row(f"recall {k}", ">= 0.90", [f"{_f(f['recall'][k], 2)} ({f['labels'][k]})"
                                           f"{mark(f['recall'][k], f['recall'][k] >= TARGETS['recall'])}" for f in figs])
        for k in MANIPULATION_KINDS:
            goal = TARGETS["latency_pump_s"] if k == "pump_and_dump" else TARGETS["latency_s"]
            row(f"median latency {k} (s)", f"<= {goal:g}",
                [f"{_f(f['median_latency_s'][k], 0)}{mark(f['median_latency_s'][k], f['median_latency_s'][k] <= goal)}"
                 for f in figs])
        row("recall, kind named (pooled)", "-", [_f(_named(f), 2) for f in figs])
        row("precision (events)", ">= 0.90", [f"{_f(f['precision'], 2)} ({f['events']})"
                                              f"{mark(f['precision'], f['precision'] >= TARGETS['precision'])}" for f in figs])
        row("precision, primary kind", ">= 0.80", [f"{_f(f['precision_primary'], 2)}"
                                                   f"{mark(f['precision_primary'], f['precision_primary'] >= 0.8)}" for f in figs])
        row("precision, final kind", "-", [_f(f["precision_final"], 2) for f in figs])
    else:
        row("events raised", "-", [str(f["events"]) for f in figs])
    for sev, goal in (("watch", TARGETS["fa_watch"]), ("high", TARGETS["fa_high"])):
        row(f"false alarms / symbol-day, {sev}+", f"<= {goal:g}",
            [f"{_f(f['fa_per_symbol_day'][sev], 2)} ({f['false_alarms'][sev]}; 95 % <= "
             f"{_f(f['fa_upper95_per_symbol_day'][sev], 2)}){mark(f['fa_per_symbol_day'][sev], f['fa_per_symbol_day'][sev] <= goal)}"
             for f in figs])
    row("symbol-days scored", "-", [f"{f['symbol_days']:.1f}" for f in figs])
    pooled = figs[0]
    rows.append("")
    rows.append("false alarms by context: " + (", ".join(f"{k} {v}" for k, v in pooled["fa_context"].items()) or "none")
                + "; by primary kind: " + (", ".join(f"{k} {v}" for k, v in pooled["fa_kinds"].items()) or "none"))
    m = board.market()
    rows.append(f"MARKET events: {m['market_events']} ({_f(m['per_day'], 1)} per day); large planted market moves "
                f"(|move| >= 3 %) announced: {m['announced']} of {m['large_moves']}"
                + (f", median {_f(m['median_latency_s'], 0)} s after the start" if m["announced"] else ""))
    return "\n".join(rows)


def _named(f: dict[str, Any]) -> float:
    n = sum(f["labels"].values())
    return sum(f["recall_named"][k] * f["labels"][k] for k in f["labels"] if f["labels"][k]) / n if n else math.nan


def _f(x: float, digits: int) -> str:
    return "n/a" if x != x else f"{x:.{digits}f}"


def _clean(x: Any) -> Any:
    """JSON-ready: NaN (nothing to measure) becomes null."""
    if isinstance(x, float):
        return None if x != x else x
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def score_files(args: argparse.Namespace) -> int:
    """``--score A.jsonl --labels L.json``: score alert lines from a file against a labels file."""
    import orjson

    from virtuoso.detect.evaluation import Scoreboard, labels_from_episodes, line_from_dict

    if args.labels is None:
        print("evaluate: --score needs --labels (the labels JSON written by simulate)", file=sys.stderr)
        return 2
    try:
        doc = json.loads(args.labels.read_text(encoding="utf-8"))
        doc = doc if isinstance(doc, dict) else {"episodes": doc}
        labels = labels_from_episodes(doc["episodes"])
        lines = []
        with open(args.score, "rb") as f:
            for raw in f:
                if raw.strip():
                    lines.append(line_from_dict(orjson.loads(raw)))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"evaluate: cannot read {exc}", file=sys.stderr)
        return 1
    info = doc.get("symbols_info") or {}
    symbols = doc.get("symbols") or sorted({ln.symbol for ln in lines} | {lb.symbol for lb in labels} - {"*", "MARKET"})
    tiers = {s: str((info.get(s) or {}).get("tier") or "untiered") for s in symbols}
    start = int(doc.get("start_ms") or min([lb.start_ms for lb in labels] + [ln.ts_event_ms for ln in lines] or [0]))
    end = int(doc.get("end_ms") or max([lb.end_ms for lb in labels] + [ln.ts_event_ms + 1 for ln in lines] or [0]))
    if args.warmup_s is not None:
        warmup_s = args.warmup_s
    elif doc.get("scored_from_ms"):
        warmup_s = (int(doc["scored_from_ms"]) - start) / 1000
    else:
        warmup_s = 3_600.0
    name = "quiet" if doc.get("quiet") else str(doc.get("source") or "scored")
    board = Scoreboard(name, held_out=bool(doc.get("held_out", True)))
    board.add_run(lines, labels, tiers, start, end, warmup_s)
    print(render(board, f"{args.score.name} against {args.labels.name}: {len(lines)} alert lines, "
                        f"{len(symbols)} symbols, scored after {warmup_s:g} s"))
    if args.json:
        print(json.dumps(_clean(board.to_dict())))
    return 0
