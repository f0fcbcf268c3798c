"""``virtuoso evaluate``: per-tier tables on simulated, quiet and real-candle runs; scoring from files as an outsider would."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.real_data import real_data_dir
from virtuoso.app import cli
from virtuoso.app.commands.evaluate import _clean
from virtuoso.app.commands.evaluate_runs import RunSpec, run_one
from virtuoso.config import load_settings
from virtuoso.detect.evaluation import Scoreboard
from virtuoso.ingest.simulator import TIER_NAMES


def _cli(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "virtuoso.app.cli", *args], capture_output=True, text=True,
                          timeout=900, cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "VIRTUOSO_DATA_DIR": str(tmp_path)})


def _last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


@pytest.mark.slow
def test_scoring_the_files_of_simulate_and_replay_gives_the_in_process_figures(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    stream, alerts = tmp_path / "s.jsonl.gz", tmp_path / "a.jsonl"
    assert cli.main(["simulate", "--out", str(stream), "--minutes", "100", "--seed", "1000", "--symbols", "tiers",
                     "--episodes-per-hour", "4"]) == 0
    capsys.readouterr()
    assert cli.main(["replay", str(stream), "--alerts-out", str(alerts)]) == 0
    capsys.readouterr()
    assert cli.main(["evaluate", "--score", str(alerts), "--labels", str(tmp_path / "s.jsonl.gz.labels.json"),
                     "--json"]) == 0
    out = capsys.readouterr().out
    from_files = _last_json(out)
    assert "| recall pump_and_dump |" in out and "false alarms / symbol-day, watch+" in out
    # the same run in process, as evaluate runs it
    settings = load_settings({}, env_file=None)
    r = run_one(RunSpec("simulated", 1000, hours=100 / 60, episodes_per_hour=4, per_tier=2,
                        market_moves_per_day=settings.simulator.market_moves_per_day), settings)
    board = Scoreboard("simulated")
    board.add_run(r.lines, r.labels, r.tiers, r.start_ms, r.end_ms, 3_600)
    mine = _clean(board.to_dict())  # NaN (nothing to measure) is null in the JSON
    for key in ("labels", "events", "false_alarms", "recall", "precision_primary"):
        assert from_files["all"][key] == mine["all"][key], key
    assert sum(mine["all"]["labels"].values()) > 3 and mine["all"]["events"] > 0
    assert set(from_files["tiers"]) == set(TIER_NAMES) == set(r.tiers.values())


@pytest.mark.slow
def test_evaluate_reports_every_tier_on_simulated_quiet_and_real_held_out_runs_with_wall_and_cpu(tmp_path):
    data = str(real_data_dir())
    out = _cli(tmp_path, "evaluate", "--seeds", "1", "--quiet-seeds", "1", "--hours", "1", "--warmup-hours", "0.5",
               "--per-tier", "1", "--real-days", "1", "--real-hours", "0.5", "--real-data", data, "--jobs", "2", "--json")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "wall" in text and "cpu" in text
    assert "### simulated (manipulation planted), held-out seeds 1000-1000" in text
    assert "### quiet (nothing planted), held-out seeds 1500-1500" in text
    assert "### real-candle background, held-out days: 1 day(s)" in text
    boards = {b["name"]: b for b in _last_json(text)["boards"]}
    assert set(boards) == {"simulated", "quiet", "real"}
    assert set(boards["simulated"]["tiers"]) == set(TIER_NAMES) == set(boards["quiet"]["tiers"])
    assert {"T1 major", "T2 large", "T3 mid"} <= set(boards["real"]["tiers"])
    assert sum(boards["quiet"]["all"]["labels"].values()) == 0
    assert boards["real"]["all"]["symbol_days"] == pytest.approx(16 * 0.5 / 24)
    for kind in ("oi_surge", "volume_spike", "price_move", "oi_price_divergence", "pump_and_dump", "liquidation_cascade"):
        assert f"| recall {kind} |" in text


@pytest.mark.slow
def test_tuning_seeds_are_labelled_as_such_and_a_missing_real_dir_is_said(tmp_path):
    out = _cli(tmp_path, "evaluate", "--seeds", "1", "--quiet-seeds", "0", "--first-seed", "5", "--hours", "0.25",
               "--warmup-hours", "0.1", "--per-tier", "1", "--real-data", str(tmp_path / "nothing"), "--jobs", "1")
    assert out.returncode == 0, out.stderr
    assert "tuning seeds: NOT a held-out figure" in out.stdout
    assert "real-candle background skipped" in out.stdout


@pytest.mark.slow
def test_a_real_candle_day_written_by_simulate_replays_and_scores_from_files(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    data = str(real_data_dir())
    stream, alerts = tmp_path / "r.jsonl.gz", tmp_path / "ra.jsonl"
    assert cli.main(["simulate", "--out", str(stream), "--real", "held_out", "--day", "2", "--minutes", "20",
                     "--warmup-hours", "0.25", "--episodes-per-hour", "6", "--real-data", data]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["source"] == "real-candles" and summary["split"] == "held_out"
    doc = json.loads((tmp_path / "r.jsonl.gz.labels.json").read_text())
    assert doc["scored_from_ms"] - doc["start_ms"] == 900_000 and doc["held_out"] is True
    assert {v["tier"] for v in doc["symbols_info"].values()} >= {"T1 major", "T2 large", "T3 mid"}
    assert cli.main(["replay", str(stream), "--alerts-out", str(alerts)]) == 0
    replayed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert replayed["malformed"] == 0 and len(replayed["symbols"]) == 16
    assert cli.main(["evaluate", "--score", str(alerts), "--labels", str(tmp_path / "r.jsonl.gz.labels.json"),
                     "--json"]) == 0
    scored = _last_json(capsys.readouterr().out)
    assert scored["all"]["symbol_days"] == pytest.approx(16 * 20 / 1_440)
    assert sum(scored["all"]["labels"].values()) > 0  # planted on the real background
