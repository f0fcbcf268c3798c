"""Benchmark: the PDF report for 24 h x 10 symbols (goal: <= 3 s).

Builds an in-memory view with 1,440 one-minute bars and 3 alerts per symbol, then exports the
report twice in one process: ``cold`` includes importing matplotlib and xhtml2pdf (the first
export after the dashboard starts), ``warm`` is every export after that. Prints one JSON line
per run with seconds, pages, size and where the time went.

    .venv/bin/python bench/report.py [--symbols 10] [--hours 24] [--out artifacts/bench-report.pdf]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.report_factories import make_view  # noqa: E402


def run_once(view: object, hours: float, out: Path) -> dict[str, object]:
    from virtuoso.reports.export import export_pdf

    marks: list[tuple[float, str]] = []
    t0 = time.perf_counter()
    cpu0 = time.process_time()

    def progress(_fraction: float, label: str) -> None:
        marks.append((time.perf_counter() - t0, label))

    res = export_pdf(view, hours, None, out, progress)  # type: ignore[arg-type]
    cpu_s = time.process_time() - cpu0
    at = {label.split(" ")[0]: t for t, label in marks}
    return {
        "seconds": res.seconds,
        "cpu_s": round(cpu_s, 3),  # this process's CPU time: the figure that does not depend on machine load
        "pages": res.pages,
        "images": res.images,
        "size_bytes": res.size_bytes,
        "read_compose_s": round(at.get("drawing", 0.0), 3),
        "charts_s": round(at.get("rendering", 0.0) - at.get("drawing", 0.0), 3),
        "pdf_s": round(at.get("writing", 0.0) - at.get("rendering", 0.0), 3),
        "warnings": len(res.warnings),
        "chart_errors": len(res.chart_errors),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--symbols", type=int, default=10)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--out", type=Path, default=ROOT / "artifacts" / "bench-report.pdf")
    ap.add_argument("--goal-s", type=float, default=3.0)
    args = ap.parse_args()
    symbols = [f"SYM{i:02d}USDT" for i in range(args.symbols)]
    view = make_view(symbols=symbols, minutes=int(args.hours * 60), alerts_per_symbol=3)
    results = {}
    for name in ("cold", "warm"):
        r = run_once(view, args.hours, args.out)
        results[name] = r
        print(json.dumps({"run": name, "symbols": args.symbols, "hours": args.hours, **r}))
    ok = results["warm"]["seconds"] <= args.goal_s  # type: ignore[operator]
    print(json.dumps({"load_avg_1m": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}))
    print(json.dumps({"goal_s": args.goal_s, "warm_within_goal": ok, "cold_within_goal":
                      results["cold"]["seconds"] <= args.goal_s, "out": str(args.out)}))  # type: ignore[operator]
    return 0


if __name__ == "__main__":
    sys.exit(main())
