"""``virtuoso report`` as a subprocess over a real SQLite store in a temporary data directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pypdf import PdfReader

from tests.integration.test_report_pdf import http_server  # noqa: F401  (fixture)
from tests.report_factories import HOSTILE, NOW_MS, make_alert, make_bars
from virtuoso.domain.alerts import AlertKind, Severity
from virtuoso.storage.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[2]


def run_cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("VIRTUOSO_")}
    env.update(VIRTUOSO_DATA_DIR=str(data_dir), VIRTUOSO_SYMBOLS="BTCUSDT,ETHUSDT", PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "virtuoso.app.cli", "report", *args], cwd=data_dir, env=env,
                          capture_output=True, text=True, timeout=120)


def fill_store(data_dir: Path, simulated: bool) -> None:
    store = SqliteStore(data_dir / "virtuoso.db")
    try:
        for i, sym in enumerate(("BTCUSDT", "ETHUSDT")):
            store.write_bars(make_bars(sym, minutes=120, simulated=simulated, price=100.0 * (i + 1)))
        store.write_alerts([
            make_alert("BTCUSDT", NOW_MS - 20 * 60_000, AlertKind.OI_SURGE, Severity.HIGH, 77.0, simulated=simulated),
            make_alert("ETHUSDT", NOW_MS - 50 * 60_000, AlertKind.LIQUIDATION_CASCADE, Severity.CRITICAL, 93.0,
                       simulated=simulated),
        ])
    finally:
        store.close()
    (data_dir / "health.json").write_text(json.dumps({
        "source": {"name": "bybit", "reason": "Bybit reachable", "reconnects": 5},
        "sinks": {"discord": {"state": "retrying", "sent": 10, "failed": 3}},
    }), encoding="utf-8")


def text_of(path: Path) -> str:
    return "\n".join(p.extract_text() or "" for p in PdfReader(path).pages)


def test_the_cli_reports_stored_real_history_as_real(tmp_path: Path) -> None:
    fill_store(tmp_path, simulated=False)
    out = tmp_path / "out" / "report.pdf"
    proc = run_cli(tmp_path, "--hours", "2", "--out", str(out), "--until", str(NOW_MS))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["simulated"] is False and summary["images"] == 6 and summary["warnings"] == []
    assert summary["pages"] == len(PdfReader(out).pages)
    text = text_of(out)
    assert "SIMULATED" not in text.upper()
    assert "REAL market data" in text and "stored history (sqlite)" in text
    for needle in ("oi_surge", "liquidation_cascade", "2023-11-14 23:40:00", "reconnects", "failed"):
        assert needle in text


def test_the_cli_labels_stored_simulated_history_simulated_on_every_page(tmp_path: Path) -> None:
    fill_store(tmp_path, simulated=True)
    out = tmp_path / "sim.pdf"
    proc = run_cli(tmp_path, "--hours", "2", "--out", str(out), "--until", "2023-11-15T00:00:00",
                   "--symbols", "btcusdt")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["simulated"] is True and summary["images"] == 3
    pages = [p.extract_text() or "" for p in PdfReader(out).pages]
    assert all("SIMULATED" in p for p in pages)
    assert "ETHUSDT" not in "\n".join(pages)


def test_a_hostile_symbol_on_the_command_line_makes_no_request(tmp_path: Path,
                                                                http_server: tuple[int, list[str]]) -> None:  # noqa: F811
    port, hits = http_server
    fill_store(tmp_path, simulated=False)
    out = tmp_path / "evil.pdf"
    proc = run_cli(tmp_path, "--hours", "1", "--out", str(out), "--until", str(NOW_MS),
                   "--symbols", "BTCUSDT," + HOSTILE.format(port=port))
    assert proc.returncode == 0, proc.stderr
    assert hits == []
    assert f"127.0.0.1:{port}/X" in text_of(out)  # printed (upper-cased like every symbol), never fetched


def test_without_stored_history_the_cli_says_where_it_looked_and_creates_nothing(tmp_path: Path) -> None:
    proc = run_cli(tmp_path, "--hours", "1", "--out", str(tmp_path / "r.pdf"))
    assert proc.returncode == 1
    assert "no stored history" in proc.stderr and str(tmp_path) in proc.stderr
    assert not (tmp_path / "virtuoso.db").exists() and not (tmp_path / "r.pdf").exists()


def test_bad_arguments_exit_2_with_a_message(tmp_path: Path) -> None:
    fill_store(tmp_path, simulated=False)
    for args, message in ((("--hours", "0"), "--hours"), (("--until", "yesterday-ish"), "--until")):
        proc = run_cli(tmp_path, "--out", str(tmp_path / "r.pdf"), *args)
        assert proc.returncode == 2 and message in proc.stderr
