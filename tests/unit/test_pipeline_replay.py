"""``virtuoso replay``: the command drives the full pipeline over a JSONL file of Bybit messages."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from virtuoso.app import cli
from virtuoso.app.commands.replay import replay_file, symbols_in_file
from virtuoso.config import load_settings
from virtuoso.domain.alerts import Alert
from virtuoso.domain.events import Event, Side, Trade
from tests.state_factories import T0_MS, alert, ws_liquidation, ws_ticker, ws_trade


def write_jsonl(path: Path, messages: list[Any]) -> Path:
    path.write_text("".join((m if isinstance(m, str) else json.dumps(m)) + "\n" for m in messages))
    return path


def small_stream(seconds: int = 120) -> list[dict[str, Any]]:
    """Two symbols, a trade each per second, a ticker every 10 s and one liquidation."""
    out: list[dict[str, Any]] = [ws_ticker("BTCUSDT", T0_MS, 100.0, 1_000.0), ws_ticker("ETHUSDT", T0_MS, 10.0, 5_000.0)]
    for s in range(seconds):
        ts = T0_MS + s * 1000 + 200
        out.append(ws_trade("BTCUSDT", ts, 100.0 + s * 0.01, 0.5, "Buy" if s % 2 else "Sell", s))
        out.append(ws_trade("ETHUSDT", ts + 1, 10.0, 2.0, "Buy", s))
        if s % 10 == 0:
            out.append(ws_ticker("BTCUSDT", ts + 2, 100.0, 1_000.0 + s, snapshot=False))
    out.append(ws_liquidation("BTCUSDT", T0_MS + 30_500, 100.0, 3.0))
    out.sort(key=lambda m: m["ts"])
    return out


class TradeOnlyParser:
    """Parser twin for publicTrade messages only (the real one is H1's BybitParser)."""

    def __init__(self) -> None:
        self.malformed = 0

    def parse(self, msg: dict[str, Any], ts_recv_ns: int) -> list[Event]:
        if not str(msg.get("topic", "")).startswith("publicTrade."):
            self.malformed += 1
            return []
        return [Trade(d["s"], d["T"], ts_recv_ns, float(d["p"]), float(d["v"]), Side(d["S"]), d["i"]) for d in msg["data"]]


class AlertEvery30s:
    def __init__(self) -> None:
        self.seconds = 0

    def on_second(self, state: Any, ts_ms: int) -> list[Alert]:
        self.seconds += 1
        assert state.bars_1s("BTCUSDT")[-1].end_ms == ts_ms
        return [alert(ts_ms, evidence_nan=float("nan"))] if (ts_ms - T0_MS) % 30_000 == 0 else []


def test_symbols_are_found_in_topics_in_order_of_first_appearance(tmp_path):
    f = write_jsonl(tmp_path / "r.jsonl", [
        {"topic": "orderbook.50.SOLUSDT", "ts": 1, "type": "snapshot", "data": {}},
        {"success": True, "op": "subscribe"},
        ws_trade("BTCUSDT", T0_MS, 1.0, 1.0),
        {"topic": "kline.1.SOLUSDT", "ts": 2, "data": []},
        ws_liquidation("XRPUSDT", T0_MS, 1.0, 1.0),
    ])
    assert symbols_in_file(f) == ["SOLUSDT", "BTCUSDT", "XRPUSDT"]


def test_replay_file_runs_every_message_and_writes_alerts_as_jsonl(tmp_path):
    msgs = small_stream(120)
    out = tmp_path / "alerts.jsonl"
    det = AlertEvery30s()
    summary = replay_file(Path("unused"), load_settings({}, env_file=None), ["BTCUSDT", "ETHUSDT"],
                          alerts_out=out, reader=lambda _p: iter(msgs), parser_factory=TradeOnlyParser, detection=det)
    assert summary["messages"] == len(msgs)
    assert summary["malformed"] == len(msgs) - 240  # tickers and liquidations are unknown to the twin
    assert summary["events"] == 240
    assert summary["alerts"] == 4 and det.seconds == summary["event_seconds"] == 120
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["ts_event_ms"] - T0_MS for r in rows] == [30_000, 60_000, 90_000, 120_000]
    for r in rows:
        assert {"id", "symbol", "kind", "severity", "score", "ts_event_ms", "evidence"} <= set(r)
        assert r["evidence"]["evidence_nan"] is None  # NaN is not JSON: written as null


def test_bad_settings_exit_2_with_the_variable_named_on_stderr(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VIRTUOSO_STATE__RETENTION_1S_S", "nope")
    f = write_jsonl(tmp_path / "r.jsonl", small_stream(3))
    assert cli.main(["replay", str(f)]) == 2
    assert "VIRTUOSO_STATE__RETENTION_1S_S" in capsys.readouterr().err


def test_replay_command_end_to_end_prints_the_summary_last(tmp_path, monkeypatch, capsys):
    pytest.importorskip("virtuoso.ingest.bybit.parse", reason="needs H1's BybitParser")
    pytest.importorskip("virtuoso.ingest.replay", reason="needs H1's iter_replay")
    monkeypatch.chdir(tmp_path)
    msgs = small_stream(90)
    f = write_jsonl(tmp_path / "r.jsonl", msgs + ["{not json"])
    out = tmp_path / "alerts.jsonl"
    assert cli.main(["replay", str(f), "--alerts-out", str(out)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    summary = json.loads(last)
    assert summary["messages"] >= len(msgs)
    assert summary["malformed"] >= 1
    assert summary["symbols"] == ["BTCUSDT", "ETHUSDT"]
    assert summary["event_seconds"] >= 89
    assert {"alerts", "seconds", "msgs_per_s"} <= set(summary)
    assert out.exists()


def test_replay_command_symbols_option_limits_the_watchlist(tmp_path, monkeypatch, capsys):
    pytest.importorskip("virtuoso.ingest.bybit.parse", reason="needs H1's BybitParser")
    pytest.importorskip("virtuoso.ingest.replay", reason="needs H1's iter_replay")
    monkeypatch.chdir(tmp_path)
    f = write_jsonl(tmp_path / "r.jsonl", small_stream(5))
    assert cli.main(["replay", str(f), "--symbols", "ethusdt"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["symbols"] == ["ETHUSDT"]


class _AlertOnceRunner:
    """Stands in for the DetectionRunner the command builds: one alert carrying the label it was given."""

    def __init__(self, thresholds: Any, policy: Any, symbols: list[str], simulated: bool = False) -> None:
        self.simulated = simulated
        self.sent = False

    def on_second(self, state: Any, ts_ms: int) -> list[Alert]:
        if self.sent:
            return []
        self.sent = True
        return [dataclasses.replace(alert(ts_ms), simulated=self.simulated)]


@pytest.mark.parametrize("meta, expected", [({"op": "virtuoso_meta", "simulated": True, "seed": 3}, True), (None, False)])
def test_replay_alerts_out_labels_alerts_simulated_exactly_when_the_file_says_so(tmp_path, monkeypatch, capsys,
                                                                                 meta, expected):
    import virtuoso.detect.runner as runner

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runner, "DetectionRunner", _AlertOnceRunner)
    f = write_jsonl(tmp_path / "r.jsonl", ([meta] if meta else []) + small_stream(5))
    out = tmp_path / "alerts.jsonl"
    assert cli.main(["replay", str(f), "--alerts-out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows and all(r["simulated"] is expected for r in rows)
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["simulated"] is expected
