"""The influxd helper: skips without the binary locally, fails under CI=true, restarts in place."""

from __future__ import annotations

import httpx
import pytest

from tests.influx_server import InfluxServer, influxd_path


def test_a_missing_influxd_fails_under_ci_instead_of_skipping(tmp_path):
    missing = str(tmp_path / "no-influxd")
    with pytest.raises(pytest.fail.Exception, match="influxd not found"):
        influxd_path(missing, {"CI": "true"}, search_path=str(tmp_path))
    with pytest.raises(pytest.skip.Exception):
        influxd_path(missing, {}, search_path=str(tmp_path))


@pytest.mark.influx
def test_the_server_restarts_on_the_same_port_with_its_data_after_a_kill(tmp_path):
    server = InfluxServer(tmp_path, influxd_path()).start()
    try:
        db = server.create_database()
        httpx.post(f"{server.url}/write", params={"db": db}, content="m v=1.0 1").raise_for_status()
        url, pid = server.url, server.proc.pid
        server.kill()
        server.start()
        assert server.url == url and server.proc.pid != pid
        res = server.query('SELECT "v" FROM "m"', db)["results"][0]["series"][0]["values"]
        assert [row[1] for row in res] == [1]  # acknowledged before the kill, so it is in the WAL
    finally:
        server.stop()
    assert server.proc.poll() is not None
