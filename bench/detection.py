"""Detection quality per liquidity tier on held-out runs (same as ``virtuoso evaluate``).

    .venv/bin/python bench/detection.py [--quick] [--seeds 3] [--quiet-seeds 3] [--hours 24]
                                        [--real-days 14] [--real-planted] [--jobs 2] [--json]

Prints one table per background (simulated with manipulation, quiet, real-candle held-out days):
per-kind recall and median latency, precision (any kind, primary kind, final kind) and false
alarms per symbol-day (watch+, high+, with a 95 % upper bound), pooled and per tier, each marked
against the issue's targets; then wall and CPU time. The matching rules are in docs/detection.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from virtuoso.app.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["evaluate", *sys.argv[1:]]))
