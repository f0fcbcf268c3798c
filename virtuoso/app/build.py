"""The composition root's parts list: every adapter is built here, from settings.

The engine (:mod:`virtuoso.app.engine`) calls these to build and connect one running monitor;
the CLI commands that run without an engine (``report``, ``record``) call the same functions, so
each part has one way to be built. Adapters themselves take what they need as arguments and build
no other adapter (the delivery service gets its channels from :mod:`virtuoso.app.delivery_build`).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from virtuoso.alerting.bus import AlertBus
from virtuoso.config import Settings, SettingsError, StorageBackend
from virtuoso.domain.bars import Bar
from virtuoso.domain.clock import Clock
from virtuoso.domain.notices import FeedGap
from virtuoso.ingest.base import Source
from virtuoso.sinks.delivery import DeliveryService
from virtuoso.storage.base import Store
from virtuoso.storage.sqlite import SqliteStore

if TYPE_CHECKING:
    from virtuoso.ingest.bybit.rest import BybitRest


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


def build_simulator(settings: Settings, clock: Clock) -> Source:
    from virtuoso.ingest.simulator import SimulatorSource

    return SimulatorSource(settings, clock)


def build_replay(settings: Settings, clock: Clock) -> Source:
    from virtuoso.ingest.replay import ReplaySource

    if settings.replay.path is None:
        raise SettingsError("VIRTUOSO_REPLAY__PATH: required when VIRTUOSO_SOURCE=replay (a JSONL file)")
    return ReplaySource(settings.replay.path, pace=settings.replay.pace, clock=clock)


def build_bybit(settings: Settings, clock: Clock, on_history: Callable[[list[Bar]], None] | None = None,
                on_gap: Callable[[FeedGap], None] | None = None,
                on_universe: Callable[[list[str], list[str]], None] | None = None,
                rank: Callable[[], Sequence[str]] | None = None) -> Source:
    """The live source and its REST client (instrument list, book ranking, backfills)."""
    from virtuoso.ingest.bybit.source import BybitSource

    return BybitSource(settings, clock, make_rest=bybit_rest_factory(settings), on_history=on_history, on_gap=on_gap,
                       on_universe=on_universe, rank=rank)


def bybit_rest_factory(settings: Settings) -> Callable[[Callable[[float], None]], BybitRest]:
    """``make_rest(sleep)`` for :class:`BybitSource`: the REST client its settings describe."""
    from virtuoso.ingest.bybit.rest import BybitRest

    b = settings.bybit

    def make_rest(sleep: Callable[[float], None]) -> BybitRest:  # the source's stop-aware sleep
        return BybitRest(b.rest_url, timeout_s=b.rest_timeout_s, max_attempts=b.rest_max_attempts,
                         backoff_initial_s=b.backoff_initial_s, backoff_max_s=min(b.backoff_max_s, 30.0), sleep=sleep)

    return make_rest


def probe_bybit(settings: Settings) -> str | None:
    """None when Bybit answers, else why not (a sentence for the source's reason)."""
    from virtuoso.ingest.bybit.source import probe

    try:
        return probe(settings, settings.bybit.connect_timeout_s)
    except Exception as exc:
        return f"probe failed: {exc}"


def build_delivery(settings: Settings, bus: AlertBus, view: Any, db_path: Path, clock: Clock,
                   live_from_ms: Callable[[], int | None]) -> DeliveryService:
    """The outbox and its channels; the constructor checks the delivery and relay settings."""
    from virtuoso.app.delivery_build import build_sinks

    return DeliveryService(settings, bus, view, db_path, clock, live_from_ms=live_from_ms, build_sinks=build_sinks)
