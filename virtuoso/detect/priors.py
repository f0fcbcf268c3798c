"""Pooled tail priors of the detection statistics (generated: do not edit by hand).

Written by ``bench/calibrate_priors.py --write`` from calibration data only (2 real-candle
calibration days and 2 quiet simulated tuning seeds, 36 h runs): per statistic, the upper
quartile across symbols of the 90 % and 98 % quantiles of its minutes above zero, of the share of
minutes above zero, and of the tail shape measured from the 90, 98 and 99.6 % quantiles. A symbol's alarm levels lean on these until its own history takes over
(``virtuoso.detect.calibration``).
"""

PRIORS: dict[str, tuple[float, float, float, float]] = {
    "divergence_300": (1.361, 1.908, 0.728, 0.105),  # 48 symbol-runs
    "divergence_900": (1.302, 1.787, 0.601, 0.0203),  # 48 symbol-runs
    "liquidation_60": (2.081, 3.843, 0.385, 0.39),  # 48 symbol-runs
    "oi_1800": (1.71, 2.389, 0.561, -0.114),  # 48 symbol-runs
    "oi_300": (1.857, 2.553, 0.678, 0.0323),  # 48 symbol-runs
    "oi_60": (2.136, 2.89, 0.88, 0.0236),  # 48 symbol-runs
    "oi_900": (1.758, 2.455, 0.601, -0.0752),  # 48 symbol-runs
    "price_300": (2.006, 3.077, 0.981, 0.237),  # 48 symbol-runs
    "price_60": (3.189, 4.934, 1, 0.248),  # 48 symbol-runs
    "price_900": (1.765, 2.695, 0.944, 0.0453),  # 48 symbol-runs
    "pump_30": (2.078, 4.068, 0.383, 0.28),  # 48 symbol-runs
    "pump_300": (0.9845, 1.924, 0.207, 0.226),  # 48 symbol-runs
    "pump_60": (1.679, 3.375, 0.311, 0.275),  # 48 symbol-runs
    "volume_300": (0.8456, 1.278, 0.424, -0.0624),  # 48 symbol-runs
    "volume_60": (1.169, 1.711, 0.508, -0.0368),  # 48 symbol-runs
}
