"""Opt-in: the engine against the real Bybit mainnet (``VIRTUOSO_LIVE_TESTS=1``; needs internet).

Everything else tests the client against the local Bybit v5 server; this is the check a user can
run to see that the same code works against the real exchange today.
"""

from __future__ import annotations

import os

import pytest

from virtuoso.app.engine import Engine
from virtuoso.config import load_settings
from virtuoso.storage.memory import MemoryStore

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(os.environ.get("VIRTUOSO_LIVE_TESTS") != "1",
                       reason="talks to the real Bybit; set VIRTUOSO_LIVE_TESTS=1 to run"),
]


def test_real_bybit_streams_tickers_and_trades_and_backfills_history(tmp_path) -> None:
    settings = load_settings({"VIRTUOSO_SOURCE": "bybit", "VIRTUOSO_SYMBOLS": "BTCUSDT,ETHUSDT",
                              "VIRTUOSO_DATA_DIR": str(tmp_path)}, env_file=None)
    engine = Engine(settings, store=MemoryStore()).start()
    try:
        assert not engine.source_info().simulated
        assert engine.wait_until(lambda e: all(s.last_price > 0 and s.open_interest > 0
                                               for s in e.snapshots().values()), 60)
        assert engine.wait_until(lambda e: e.health()["pipeline"]["messages"] > 50, 60)
        assert engine.wait_until(lambda e: len(e.bars_1m("BTCUSDT", 240)) >= 60, 120)  # REST backfill
        assert engine.health()["source"]["connected"]
    finally:
        engine.stop()
