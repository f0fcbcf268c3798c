"""Builds the history store the settings ask for; the engine calls :func:`build_history_store`."""

from __future__ import annotations

import threading
from pathlib import Path

from virtuoso.config import Settings, StorageBackend
from virtuoso.domain.clock import Clock
from virtuoso.storage.base import Store
from virtuoso.storage.sqlite import SqliteStore


def build_history_store(settings: Settings, clock: Clock) -> Store:
    """``sqlite`` (default): the embedded database. ``influxdb``: InfluxDB, spilling to the embedded one.

    Both live under ``data_dir/virtuoso.db``; with InfluxDB only the spill and quarantine tables
    are used there.
    """
    db_path = Path(settings.data_dir) / "virtuoso.db"
    if settings.storage.backend != StorageBackend.INFLUXDB:
        return SqliteStore(db_path)

    from virtuoso.storage.influx import InfluxStore
    from virtuoso.storage.influx_http import InfluxV1Client
    from virtuoso.storage.spill import SpillBuffer

    inf = settings.influx
    stop = threading.Event()
    client = InfluxV1Client(
        inf.url,
        inf.database,
        username=inf.username,
        password=inf.password.get_secret_value() if inf.password else None,
        token=inf.token.get_secret_value() if inf.token else None,
        retention_policy=inf.retention_policy,
        timeout_s=inf.timeout_s,
        stop=stop,
    )
    return InfluxStore(
        client,
        SpillBuffer(db_path),
        clock,
        batch_size=inf.batch_size,
        flush_interval_s=inf.flush_interval_s,
        buffer_max_points=inf.buffer_max_points,
        stop=stop,
    )
