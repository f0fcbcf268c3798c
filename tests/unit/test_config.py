"""Settings: one typed object; bad and unknown variables stop start-up with a named message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from virtuoso.app.envdoc import env_example, markdown_table
from virtuoso.config import SettingsError, SourceKind, load_settings, redacted

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_watch_at_least_the_five_majors_on_the_auto_source():
    s = load_settings({}, env_file=None)
    assert s.source is SourceKind.AUTO
    assert {"BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT"} <= set(s.symbols)


def test_nested_keys_use_double_underscore_and_symbols_are_comma_separated():
    s = load_settings(
        {"VIRTUOSO_BYBIT__WS_URL": "ws://127.0.0.1:9/v5/public/linear", "VIRTUOSO_SYMBOLS": "btcusdt, ethusdt,btcusdt"},
        env_file=None,
    )
    assert s.bybit.ws_url == "ws://127.0.0.1:9/v5/public/linear"
    assert s.symbols == ["BTCUSDT", "ETHUSDT"]


def test_an_unknown_virtuoso_variable_is_named_in_the_error():
    with pytest.raises(SettingsError, match="VIRTUOSO_SYMBLS: no such setting"):
        load_settings({"VIRTUOSO_SYMBLS": "BTCUSDT"}, env_file=None)


def test_a_bad_value_names_the_variable_and_what_is_expected():
    with pytest.raises(SettingsError) as err:
        load_settings({"VIRTUOSO_DETECTION__OI_MIN_PCT": "lots", "VIRTUOSO_SOURCE": "binance"}, env_file=None)
    text = str(err.value)
    assert "VIRTUOSO_DETECTION__OI_MIN_PCT" in text and "number" in text
    assert "VIRTUOSO_SOURCE" in text and "'simulator'" in text


def test_a_symbol_with_markup_is_refused():
    with pytest.raises(SettingsError, match="VIRTUOSO_SYMBOLS"):
        load_settings({"VIRTUOSO_SYMBOLS": "BTCUSDT,<script>x</script>"}, env_file=None)


def test_a_threshold_outside_its_range_is_refused():
    with pytest.raises(SettingsError, match="VIRTUOSO_DETECTION__OI_MIN_PCT"):
        load_settings({"VIRTUOSO_DETECTION__OI_MIN_PCT": "-1"}, env_file=None)


def test_dotenv_files_are_read_and_checked_for_unknown_keys(tmp_path):
    env = tmp_path / ".env"
    env.write_text("VIRTUOSO_SYMBOLS=SOLUSDT\n", encoding="utf-8")
    assert load_settings({}, env_file=env).symbols == ["SOLUSDT"]
    env.write_text("VIRTUOSO_SIMULATOR__SEEED=3\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="VIRTUOSO_SIMULATOR__SEEED"):
        load_settings({}, env_file=env)


def test_redacted_settings_never_contain_a_secret():
    s = load_settings(
        {
            "VIRTUOSO_DISCORD__WEBHOOK_URL": "https://discord.com/api/webhooks/1/very-secret-token",
            "VIRTUOSO_RELAY__TOKEN": "relay-secret",
            "VIRTUOSO_INFLUX__PASSWORD": "influx-secret",
        },
        env_file=None,
    )
    text = repr(redacted(s)) + repr(s)
    for secret in ("very-secret-token", "relay-secret", "influx-secret"):
        assert secret not in text


def test_check_command_prints_redacted_settings_and_exits_2_on_a_bad_setting(tmp_path):
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    ok = subprocess.run(
        [sys.executable, "-m", "virtuoso.app.cli", "check"],
        env={**base, "VIRTUOSO_DISCORD__WEBHOOK_URL": "https://x/y/hidden-part"},
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    assert "hidden-part" not in ok.stdout and "**********" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "virtuoso.app.cli", "check"],
        env={**base, "VIRTUOSO_STORAGE__BACKEND": "mongo"},
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert bad.returncode == 2
    assert "VIRTUOSO_STORAGE__BACKEND" in bad.stderr and "Traceback" not in bad.stderr


def test_env_example_documents_every_setting_and_matches_the_model():
    committed = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert committed == env_example(), "regenerate: python -m virtuoso.app.envdoc env > .env.example"


def test_readme_settings_table_matches_the_model():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert markdown_table() in readme, "regenerate the table: python -m virtuoso.app.envdoc markdown"


@pytest.mark.parametrize("env, variable", [
    ({"VIRTUOSO_DISCORD__WEBHOOK_URL": "notaurl"}, "VIRTUOSO_DISCORD__WEBHOOK_URL"),
    ({"VIRTUOSO_DISCORD__WEBHOOK_URL": "https://"}, "VIRTUOSO_DISCORD__WEBHOOK_URL"),
    ({"VIRTUOSO_RELAY__HOST": "0.0.0.0"}, "VIRTUOSO_RELAY__TOKEN"),
    ({"VIRTUOSO_TELEGRAM__BOT_TOKEN": "123:abc"}, "VIRTUOSO_TELEGRAM__CHAT_ID"),
    ({"VIRTUOSO_SOURCE": "replay"}, "VIRTUOSO_REPLAY__PATH"),
])
def test_check_run_and_the_settings_object_refuse_the_same_settings_with_one_line(tmp_path, env, variable):
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "VIRTUOSO_DATA_DIR": str(tmp_path / "data"),
            "VIRTUOSO_SOURCE": "simulator"}
    with pytest.raises(SettingsError) as err:
        load_settings({**base, **env}, env_file=None)
    assert str(err.value).startswith(variable + ":") and "\n" not in str(err.value)
    for command in (["check"], ["run", "--seconds", "1"]):
        done = subprocess.run([sys.executable, "-m", "virtuoso.app.cli", *command], env={**base, **env},
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(variable + ":"), (command, done.stderr)
    assert "notaurl" not in str(err.value) and "abc" not in str(err.value)


def test_a_loopback_relay_and_a_relay_with_a_token_are_accepted():
    assert load_settings({"VIRTUOSO_RELAY__HOST": "localhost"}, env_file=None).relay.host == "localhost"
    assert load_settings({"VIRTUOSO_RELAY__HOST": "::1"}, env_file=None).relay.host == "::1"
    s = load_settings({"VIRTUOSO_RELAY__HOST": "0.0.0.0", "VIRTUOSO_RELAY__TOKEN": "t0ken"}, env_file=None)
    assert s.relay.token is not None
    assert load_settings({"VIRTUOSO_RELAY__HOST": "0.0.0.0", "VIRTUOSO_RELAY__ENABLED": "false"}, env_file=None)


def test_a_given_environ_is_read_without_touching_os_environ_for_other_threads(monkeypatch):
    import os
    import threading

    monkeypatch.setenv("VIRTUOSO_SYMBOLS", "ETHUSDT")  # must not leak into a load given its own mapping
    path = os.environ["PATH"]
    stop = threading.Event()
    seen: dict[str, int] = {"reads": 0, "missing": 0, "changed": 0}

    def reader() -> None:
        while not stop.is_set():
            value = os.environ.get("PATH")
            seen["reads"] += 1
            if value is None:
                seen["missing"] += 1
            elif value != path:
                seen["changed"] += 1

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        for i in range(300):
            s = load_settings({"VIRTUOSO_SYMBOLS": "BTCUSDT", "VIRTUOSO_RELAY__PORT": str(9000 + i)}, env_file=None)
            assert s.symbols == ["BTCUSDT"] and s.relay.port == 9000 + i
    finally:
        stop.set()
        t.join(10)
    assert seen["reads"] > 0 and seen["missing"] == 0 and seen["changed"] == 0
    assert load_settings(env_file=None).symbols == ["ETHUSDT"]  # no mapping: os.environ, as before


def test_bybit_api_credentials_are_not_settings_public_data_needs_none():
    with pytest.raises(SettingsError, match="VIRTUOSO_BYBIT__API_KEY: no such setting"):
        load_settings({"VIRTUOSO_BYBIT__API_KEY": "k"}, env_file=None)
