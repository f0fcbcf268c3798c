"""Process-wide interpreter tuning for a headless engine, opt-in and undone on stop.

Two settings change the whole Python process, not just the engine, so only ``virtuoso run`` (a
process that is nothing but the engine) asks for them with ``Engine.start(tune_interpreter=True)``;
the dashboard's Streamlit server, the tests and library callers keep CPython's defaults.

- **GIL switch interval 1 ms** (CPython's default is 5 ms). The pipeline thread is CPU-bound (a
  detection second holds the GIL for milliseconds); with 5 ms the delivery and relay threads wait
  whole intervals for it, which set the alert path's tail latency (``bench/alerts.py``).
- **gc.freeze() after the build.** Everything built before data flows (imported modules, reloaded
  history) lives as long as the process: freezing takes it out of the cyclic collector's full
  passes, which otherwise stop every thread for tens of ms (``bench/alerts.py``).

:meth:`InterpreterTuning.restore` puts back the switch interval found before and unfreezes what
was frozen, so an engine stopped inside a longer-lived process leaves it as it was.
"""

from __future__ import annotations

import gc
import sys

GIL_SWITCH_INTERVAL_S = 0.001


class InterpreterTuning:
    """Applies the two process-wide settings once and remembers how to undo them."""

    def __init__(self, switch_interval_s: float = GIL_SWITCH_INTERVAL_S) -> None:
        self.switch_interval_s = switch_interval_s
        self._previous_switch_interval_s: float | None = None
        self._froze = False

    def apply(self) -> "InterpreterTuning":
        if self._previous_switch_interval_s is None:
            self._previous_switch_interval_s = sys.getswitchinterval()
            sys.setswitchinterval(self.switch_interval_s)
        # Freeze only if nobody else has: unfreezing on restore must not release someone else's freeze.
        if not self._froze and gc.get_freeze_count() == 0:
            gc.collect()
            gc.freeze()
            self._froze = True
        return self

    def restore(self) -> None:
        if self._previous_switch_interval_s is not None:
            sys.setswitchinterval(self._previous_switch_interval_s)
            self._previous_switch_interval_s = None
        if self._froze:
            gc.unfreeze()
            self._froze = False
