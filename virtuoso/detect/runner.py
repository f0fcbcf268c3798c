"""Detection runner: called by the pipeline once per second of *event* time.

PLACEHOLDER until the detection issue lands: it raises no alerts. The contract the pipeline
relies on is: ``on_second(state, ts_ms) -> list[Alert]`` (alerts already through the alert
policy), ``set_thresholds(DetectionSettings)`` taking effect at once, ``thresholds``, and
``composite_scores() -> dict[symbol, 0..100]``.
"""

from __future__ import annotations

from typing import Any

from virtuoso.config import AlertPolicySettings, DetectionSettings
from virtuoso.domain.alerts import Alert


class DetectionRunner:
    def __init__(self, thresholds: DetectionSettings, policy: AlertPolicySettings, symbols: list[str], simulated: bool = False) -> None:
        self.thresholds = thresholds
        self.policy = policy
        self.symbols = list(symbols)
        self.simulated = simulated

    def on_second(self, state: Any, ts_ms: int) -> list[Alert]:
        return []

    def set_thresholds(self, thresholds: DetectionSettings) -> None:
        self.thresholds = thresholds

    def composite_scores(self) -> dict[str, float]:
        return {s: 0.0 for s in self.symbols}
