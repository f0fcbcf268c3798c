"""``virtuoso simulate``: a labelled replay file, byte-identical per seed, that ``replay`` reads cleanly."""

from __future__ import annotations

import gzip
import json

from virtuoso.app import cli
from virtuoso.ingest.simulator import EPISODE_KINDS, load_labels


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def simulate(tmp_path, capsys, name: str, *extra: str) -> dict:
    out = tmp_path / name
    args = ["simulate", "--out", str(out), "--minutes", "20", "--seed", "3", "--symbols", "btcusdt,SOLUSDT",
            "--episodes-per-hour", "12", *extra]
    assert cli.main(args) == 0
    return last_json(capsys)


def test_simulate_writes_the_meta_line_the_stream_and_the_labels(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    summary = simulate(tmp_path, capsys, "s.jsonl")
    lines = (tmp_path / "s.jsonl").read_text().splitlines()
    meta = json.loads(lines[0])
    assert meta["op"] == "virtuoso_meta" and meta["simulated"] is True and meta["seed"] == 3
    assert meta["symbols"] == ["BTCUSDT", "SOLUSDT"]
    assert len(lines) == summary["messages"] + 1
    assert json.loads(lines[1])["topic"] == "tickers.BTCUSDT"
    labels = load_labels(tmp_path / "s.jsonl.labels.json")
    assert summary["episodes"] == len([e for e in labels if e.kind in EPISODE_KINDS]) > 0
    assert all(e.symbol in ("BTCUSDT", "SOLUSDT", "*") for e in labels)


def test_the_same_seed_writes_the_same_bytes_and_gz_works(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    simulate(tmp_path, capsys, "a.jsonl")
    simulate(tmp_path, capsys, "b.jsonl")
    simulate(tmp_path, capsys, "c.jsonl.gz", "--labels", str(tmp_path / "labels" / "c.json"))
    a = (tmp_path / "a.jsonl").read_bytes()
    assert a == (tmp_path / "b.jsonl").read_bytes()
    assert gzip.decompress((tmp_path / "c.jsonl.gz").read_bytes()) == a
    assert (tmp_path / "labels" / "c.json").exists()


def test_replay_reads_a_simulated_file_with_nothing_malformed(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    summary = simulate(tmp_path, capsys, "s.jsonl.gz")
    assert cli.main(["replay", str(tmp_path / "s.jsonl.gz")]) == 0
    replayed = last_json(capsys)
    assert replayed["messages"] == summary["messages"]
    assert replayed["malformed"] == 0
    assert replayed["symbols"] == ["BTCUSDT", "SOLUSDT"]
    assert replayed["event_seconds"] >= 20 * 60


def test_bad_arguments_exit_2_with_a_message(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = str(tmp_path / "x.jsonl")
    assert cli.main(["simulate", "--out", out, "--symbols", "BTC<script>"]) == 2
    assert "--symbols" in capsys.readouterr().err
    assert cli.main(["simulate", "--out", out, "--start", "yesterday-ish"]) == 2
    assert "--start" in capsys.readouterr().err
    assert cli.main(["simulate", "--out", out, "--episodes-per-hour", "-1"]) == 2


def test_an_unwritable_output_exits_1(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file").write_text("x")
    assert cli.main(["simulate", "--out", str(tmp_path / "file" / "s.jsonl"), "--minutes", "1"]) == 1
    assert "cannot write" in capsys.readouterr().err


def test_quiet_tiered_runs_label_every_symbols_tier_and_plant_no_manipulation(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "q.jsonl"
    assert cli.main(["simulate", "--out", str(out), "--minutes", "30", "--seed", "1000", "--symbols", "tiers",
                     "--episodes-per-hour", "12", "--quiet"]) == 0
    summary = last_json(capsys)
    assert summary["quiet"] is True and summary["episodes"] == 0
    doc = json.loads((tmp_path / "q.jsonl.labels.json").read_text())
    assert doc["quiet"] is True and doc["source"] == "simulator"
    info = doc["symbols_info"]
    assert set(info) == set(doc["symbols"]) and len({v["tier"] for v in info.values()}) >= 3
    assert not [e for e in doc["episodes"] if e["kind"] in EPISODE_KINDS]
