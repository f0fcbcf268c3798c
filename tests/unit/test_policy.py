"""Alert policy: hysteresis, cooldown, escalation only upwards, market-wide demotion."""

from __future__ import annotations

from virtuoso.alerting.policy import EpisodePolicy, market_wide_symbols
from virtuoso.config import AlertPolicySettings
from virtuoso.detect.levels import severity_for

T0 = 1_700_000_040_000


def run(policy: EpisodePolicy, levels: list[float], kind: str = "price_move") -> list[tuple[int, str, str]]:
    out = []
    for i, lv in enumerate(levels):
        d = policy.step("BTCUSDT", kind, lv, severity_for(lv), T0 + i * 1000)
        if d is not None:
            out.append((i, d.event, d.severity.value))
    return out


def test_a_level_wobbling_around_the_threshold_is_one_episode() -> None:
    p = EpisodePolicy(AlertPolicySettings(cooldown_s=0, exit_ratio=0.7))
    assert run(p, [1.1, 0.9, 1.05, 0.8, 1.2]) == [(0, "new", "watch")]


def test_an_episode_ends_below_the_exit_level_and_a_new_one_waits_for_the_cooldown() -> None:
    p = EpisodePolicy(AlertPolicySettings(cooldown_s=5, exit_ratio=0.7))
    events = run(p, [1.1, 0.5, 1.1, 0.5, 0.5, 0.5, 1.1])
    assert events == [(0, "new", "watch"), (6, "new", "watch")]


def test_the_same_episode_is_re_raised_only_when_severity_rises() -> None:
    p = EpisodePolicy(AlertPolicySettings(cooldown_s=900))
    events = run(p, [1.0, 1.7, 1.2, 1.8, 2.6, 1.0])
    assert events == [(0, "new", "watch"), (1, "escalate", "high"), (4, "escalate", "critical")]
    first = p.step("BTCUSDT", "price_move", 3.0, severity_for(3.0), T0 + 10_000)
    assert first is None  # critical already raised: nothing higher to say


def test_an_episode_explained_away_starts_no_cooldown_but_keeps_its_hysteresis() -> None:
    p = EpisodePolicy(AlertPolicySettings(cooldown_s=900, exit_ratio=0.7))
    assert run(p, [1.2])[0][1] == "new"
    p.waive_cooldown("BTCUSDT", "price_move")
    later = [(i + 1, lv) for i, lv in enumerate([0.9, 1.3, 0.5, 1.1])]
    events = [(i, d.event) for i, lv in later
              if (d := p.step("BTCUSDT", "price_move", lv, severity_for(lv), T0 + i * 1000)) is not None]
    assert events == [(4, "new")]  # 0.9 and 1.3 are the same episode; after it ends, no 900 s wait


def test_kinds_and_symbols_have_separate_episodes() -> None:
    p = EpisodePolicy(AlertPolicySettings())
    assert p.step("BTCUSDT", "price_move", 1.2, severity_for(1.2), T0) is not None
    assert p.step("BTCUSDT", "volume_spike", 1.2, severity_for(1.2), T0) is not None
    assert p.step("ETHUSDT", "price_move", 1.2, severity_for(1.2), T0) is not None


def test_most_of_the_watchlist_moving_together_is_market_wide() -> None:
    moving = {"A": 1.0, "B": 2.0, "C": 1.5, "D": -1.0}
    assert market_wide_symbols(moving, watchlist_size=5, fraction=0.6) == {"A", "B", "C"}
    assert market_wide_symbols({"A": 1.0}, watchlist_size=5, fraction=0.6) == set()
    assert market_wide_symbols({"A": 1.0, "B": 1.0}, watchlist_size=2, fraction=0.5) == set()  # too few to tell


def test_a_mover_far_beyond_the_markets_median_mover_is_not_explained_by_it() -> None:
    moving = {"A": -7.0, "B": -0.4, "C": -0.45, "D": 0.3}
    assert market_wide_symbols(moving, watchlist_size=5, fraction=0.6, max_ratio=3.0) == {"B", "C"}
    assert market_wide_symbols(moving, watchlist_size=5, fraction=0.6) == {"A", "B", "C"}  # no ratio: all of them
