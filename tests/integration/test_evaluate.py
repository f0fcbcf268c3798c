"""`virtuoso evaluate --quick` runs the real pipeline on labelled scenarios and prints the table."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_evaluate_quick_prints_recall_precision_latency_and_false_alarms(tmp_path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "virtuoso.app.cli", "evaluate", "--quick", "--json"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "VIRTUOSO_DATA_DIR": str(tmp_path)},
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for kind in ("oi_surge", "volume_spike", "price_move", "oi_price_divergence", "pump_and_dump", "liquidation_cascade"):
        assert f"| {kind} |" in text
    assert "precision" in text and "false alarms per symbol-day" in text and "(held out)" in text
    figures = json.loads(text.strip().splitlines()[-1])
    assert sum(figures["labels"].values()) > 0 and figures["alert_episodes"] > 0
    assert figures["recall"]["pump_and_dump"] > 0
