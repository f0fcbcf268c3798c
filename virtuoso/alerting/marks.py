"""Operator marks on alerts: acknowledgements and time-limited mutes, persisted in the embedded DB.

The dashboard writes them; the delivery service asks :meth:`AlertMarks.is_muted` before sending an
alert to Discord. Two small tables live in ``data_dir/virtuoso.db`` next to the history store's
tables. Each call opens its own short-lived connection, so any thread may use one instance.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from virtuoso.domain.alerts import Alert
from virtuoso.storage import embedded

TargetKind = Literal["symbol", "kind"]
TARGET_KINDS: tuple[str, ...] = ("symbol", "kind")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS alert_acks (alert_id TEXT PRIMARY KEY, acked_ms INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS alert_mutes ("
    " target_kind TEXT NOT NULL, target TEXT NOT NULL, until_ms INTEGER NOT NULL,"
    " PRIMARY KEY (target_kind, target))",
)


@dataclass(frozen=True, slots=True)
class Mute:
    """Alerts for ``target`` (a symbol or an alert kind) are muted until ``until_ms``."""

    target_kind: str
    target: str
    until_ms: int


class AlertMarks:
    """Acknowledge alerts and mute a symbol or a kind for a while; survives restarts."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path)
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as con, con:
            for ddl in _SCHEMA:
                con.execute(ddl)

    def _connect(self) -> sqlite3.Connection:
        return embedded.connect(self.db_path, "NORMAL")

    def acknowledge(self, alert_id: str, now_ms: int) -> None:
        """Mark one alert as seen by an operator (idempotent; the first time is kept)."""
        with closing(self._connect()) as con, con:
            con.execute("INSERT OR IGNORE INTO alert_acks(alert_id, acked_ms) VALUES (?, ?)", (str(alert_id), int(now_ms)))

    def acknowledged(self) -> set[str]:
        """Ids of every acknowledged alert."""
        with closing(self._connect()) as con:
            return {row[0] for row in con.execute("SELECT alert_id FROM alert_acks")}

    def mute(self, target_kind: TargetKind, target: str, until_ms: int) -> None:
        """Mute a symbol or an alert kind until ``until_ms``; a new mute replaces the old one."""
        _check_kind(target_kind)
        with closing(self._connect()) as con, con:
            con.execute(
                "INSERT OR REPLACE INTO alert_mutes(target_kind, target, until_ms) VALUES (?, ?, ?)",
                (target_kind, str(target), int(until_ms)),
            )

    def unmute(self, target_kind: TargetKind, target: str) -> None:
        """End a mute early (nothing happens when there is none)."""
        _check_kind(target_kind)
        with closing(self._connect()) as con, con:
            con.execute("DELETE FROM alert_mutes WHERE target_kind = ? AND target = ?", (target_kind, str(target)))

    def active_mutes(self, now_ms: int) -> list[Mute]:
        """Mutes still in force at ``now_ms``, soonest to expire first."""
        with closing(self._connect()) as con:
            rows = con.execute(
                "SELECT target_kind, target, until_ms FROM alert_mutes WHERE until_ms > ? ORDER BY until_ms, target",
                (int(now_ms),),
            ).fetchall()
        return [Mute(*row) for row in rows]

    def is_muted(self, alert: Alert, now_ms: int) -> bool:
        """True when the alert's symbol or kind is muted at ``now_ms`` (delivery skips it)."""
        return is_muted_by(self.active_mutes(now_ms), alert)


def is_muted_by(mutes: list[Mute], alert: Alert) -> bool:
    """Pure check of one alert against a list of active mutes (for filtering many alerts at once)."""
    kind = getattr(alert.kind, "value", alert.kind)
    return any(
        (m.target_kind == "symbol" and m.target == alert.symbol) or (m.target_kind == "kind" and m.target == kind)
        for m in mutes
    )


def _check_kind(target_kind: str) -> None:
    if target_kind not in TARGET_KINDS:
        raise ValueError(f"target_kind must be 'symbol' or 'kind', got {target_kind!r}")
