"""Delivery settings: secret URLs checked without echoing them, Telegram needs a chat, defaults."""

from __future__ import annotations

import pytest

from virtuoso.config import Settings, SettingsError, WebhookSettings, check_delivery_settings, load_settings, redacted


def test_a_bad_secret_url_is_refused_without_showing_it() -> None:
    with pytest.raises(SettingsError) as err:
        load_settings({"VIRTUOSO_WEBHOOK__URL": "ftp://host/token-xyz-123"}, env_file=None)
    assert str(err.value).startswith("VIRTUOSO_WEBHOOK__URL:") and "token-xyz-123" not in str(err.value)


def test_settings_built_without_validation_are_still_checked_before_delivery() -> None:
    s = Settings.model_construct(**{**dict(load_settings({}, env_file=None)),
                                    "webhook": WebhookSettings(url="ftp://host/token-xyz-123")})
    with pytest.raises(SettingsError) as err:
        check_delivery_settings(s)
    assert "VIRTUOSO_WEBHOOK__URL" in str(err.value) and "token-xyz-123" not in str(err.value)


def test_a_telegram_token_needs_a_chat_and_is_a_secret() -> None:
    with pytest.raises(SettingsError, match="VIRTUOSO_TELEGRAM__CHAT_ID") as err:
        load_settings({"VIRTUOSO_TELEGRAM__BOT_TOKEN": "123:abc-secret"}, env_file=None)
    assert "abc-secret" not in str(err.value)
    ok = load_settings({"VIRTUOSO_TELEGRAM__BOT_TOKEN": "123:abc-secret", "VIRTUOSO_TELEGRAM__CHAT_ID": "-100123"},
                       env_file=None)
    check_delivery_settings(ok)
    assert "abc-secret" not in str(redacted(ok)) and "abc-secret" not in repr(ok)
    with pytest.raises(SettingsError, match="VIRTUOSO_TELEGRAM__CHAT_ID"):
        load_settings({"VIRTUOSO_TELEGRAM__CHAT_ID": "not a chat"}, env_file=None)


def test_defaults_repost_on_high_charts_on_without_waiting_and_gaps_over_a_minute() -> None:
    s = load_settings({}, env_file=None)
    assert s.discord.repost_on_high and s.discord.chart and s.discord.chart_budget_ms == 0
    assert s.notices.feed_gap_min_s == 60 and s.notices.heartbeat_utc_hour is None
    assert s.outcomes.enabled and s.outcomes.hit_multiple == 2.0
