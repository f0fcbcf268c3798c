"""Operator commands on alerts (acknowledge, mute, unmute) as part of the MonitorView.

The engine and the UI's test twin both mix this in, so pages acknowledge and mute through the view
and never open the embedded database themselves. The marks live in ``data_dir/virtuoso.db``
(:class:`virtuoso.alerting.marks.AlertMarks`); each call opens and closes its own connection, so
any thread (a Streamlit rerun) may call them.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Sequence

from virtuoso.alerting.marks import AlertMarks, TargetKind
from virtuoso.domain.clock import Clock

_build_lock = threading.Lock()


class OperatorMarks:
    """Acknowledgements and mutes, read and written through the view (needs ``db_path`` and ``clock``)."""

    db_path: Path
    clock: Clock
    _alert_marks: AlertMarks | None = None

    def _marks(self) -> AlertMarks:
        if self._alert_marks is None:
            with _build_lock:
                if self._alert_marks is None:
                    self._alert_marks = AlertMarks(self.db_path)
        return self._alert_marks

    def acknowledged(self) -> set[str]:
        """Ids of every acknowledged alert event."""
        return self._marks().acknowledged()

    def acknowledge(self, alert_ids: Sequence[str]) -> None:
        """Mark events as seen by an operator now (idempotent: the first time is kept)."""
        marks, now = self._marks(), self.clock.now_ms()
        for alert_id in alert_ids:
            marks.acknowledge(str(alert_id), now)

    def active_mutes(self) -> list[Any]:
        """Mutes in force now (:class:`virtuoso.alerting.marks.Mute`: target_kind, target, until_ms)."""
        return self._marks().active_mutes(self.clock.now_ms())

    def mute(self, target_kind: TargetKind, target: str, until_ms: int) -> None:
        """Mute a symbol or an alert kind until ``until_ms``: recorded, not sent to Discord or Telegram."""
        self._marks().mute(target_kind, target, until_ms)

    def unmute(self, target_kind: TargetKind, target: str) -> None:
        self._marks().unmute(target_kind, target)
