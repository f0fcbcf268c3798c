"""Factories for detector tests: quiet features by default, set only what a test is about."""

from __future__ import annotations

from typing import Any

from virtuoso.detect.features import Features

QUIET: dict[str, Any] = dict(
    close=100.0, ret_short_pct=0.02, ret_mid_pct=0.05, ret_long_pct=0.05, rise_pct=0.1, sigma_1m_pct=0.08,
    vol_ratio_fast=1.0, vol_ratio_mid=1.0, oi_chg_pct=0.05, oi_chg_long_pct=0.1, oi_chg_short_pct=0.01, oi_drop_pct=0.0,
    oi_noise_pct=0.1, liq_usd=0.0, liq_baseline_usd=1_000.0, market_moving=0.0,
    ret_fast_pct=0.01, buy_share_fast=0.5, buy_share_short=0.5,
)


def features(**kw: Any) -> Features:
    return Features(**{**QUIET, **kw})
