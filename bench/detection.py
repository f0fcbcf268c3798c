"""Detection quality on held-out simulated scenarios (same as ``virtuoso evaluate``).

    .venv/bin/python bench/detection.py [--quick] [--seeds 2] [--hours 24] [--json]

Prints per-kind recall, precision (any kind and same kind), F1, median and p90 detection latency,
and false alarms per symbol-day by severity. The matching rules are in docs/detection.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from virtuoso.app.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["evaluate", *sys.argv[1:]]))
