"""No secret reaches a log: every record of the process is scrubbed, whatever logs it, at any level."""

from __future__ import annotations

import base64
import logging

from urllib.parse import quote, quote_plus

import httpx

from tests.discord_receiver import DiscordReceiver
from virtuoso.app.logging_setup import configure_logging
from virtuoso.config import load_settings
from virtuoso.sinks import redact

SECRETS = {
    "VIRTUOSO_DISCORD__WEBHOOK_URL": "https://discord.com/api/webhooks/998877/discord-token-Q1w2E3",
    "VIRTUOSO_RELAY__TOKEN": "relay-token-Z9x8",
    "VIRTUOSO_INFLUX__USERNAME": "virtuoso",
    "VIRTUOSO_INFLUX__PASSWORD": "influx-pass-Y7u6",
    "VIRTUOSO_INFLUX__TOKEN": "influx-token-T5r4",
    "VIRTUOSO_DASHBOARD__PASSWORD": "dash pass/P3+o2&",
    "VIRTUOSO_TELEGRAM__BOT_TOKEN": "123456:telegram-token-K1j2",
    "VIRTUOSO_TELEGRAM__CHAT_ID": "-100123",
    "VIRTUOSO_WEBHOOK__URL": "https://hooks.example.com/in/webhook-token-M0n9",
    "VIRTUOSO_WEBHOOK__SECRET": "hmac-key-B8v7",
}
VALUES = ["discord-token-Q1w2E3", "relay-token-Z9x8", "influx-pass-Y7u6", "influx-token-T5r4", "dash pass/P3+o2&",
          "telegram-token-K1j2", "webhook-token-M0n9", "hmac-key-B8v7"]


def protected_settings():
    settings = load_settings({**SECRETS, "VIRTUOSO_RELAY__HOST": "0.0.0.0"}, env_file=None)
    redact.protect_settings(settings)
    return settings


def test_every_configured_secret_is_masked_in_any_library_logger_at_debug(caplog):
    protected_settings()
    caplog.set_level(logging.DEBUG)
    lib = logging.getLogger("some.third_party.lib")  # no filter of ours on it or its parents
    for value in VALUES:
        lib.debug("frame %s sent", {"op": "subscribe", "token": value})
        lib.info("url https://x/%s?token=%s&p=%s", quote(value, safe=""), value, quote_plus(value))
    basic = base64.b64encode(b"virtuoso:influx-pass-Y7u6").decode()
    lib.warning("Authorization: Basic %s", basic)
    assert caplog.records
    for value in VALUES:
        assert value not in caplog.text and quote(value, safe="") not in caplog.text
        assert quote_plus(value) not in caplog.text
    assert basic not in caplog.text
    assert redact.MASK in caplog.text


def test_an_exception_text_and_a_stack_are_scrubbed_too(caplog):
    protected_settings()
    caplog.set_level(logging.DEBUG)
    log = logging.getLogger("another.lib")
    try:
        raise RuntimeError("POST https://discord.com/api/webhooks/998877/discord-token-Q1w2E3 failed")
    except RuntimeError:
        log.exception("send failed", stack_info=True)
    assert "discord-token-Q1w2E3" not in caplog.text and "RuntimeError" in caplog.text


def test_httpx_request_lines_never_show_a_webhook_token_even_one_nobody_registered(caplog):
    redact.install()
    caplog.set_level(logging.DEBUG)
    with DiscordReceiver() as r:
        url = r.url_for("4242/never-registered-token")
        httpx.post(url, json={"content": "x"})
    assert "4242/" + redact.MASK in caplog.text  # the request line is there, its token is not
    assert "never-registered-token" not in caplog.text


def test_a_token_path_is_masked_by_its_shape_even_when_a_registered_secret_is_a_word_in_it():
    scrubber = redact.SecretScrubber()
    scrubber.add("hook")  # a generic webhook URL's last segment, registered by protect()
    line = scrubber.scrub("POST http://h/api/webhooks/42/tok-en-123")
    assert "/42/" + redact.MASK in line and "tok-en-123" not in line


def test_a_telegram_bot_path_is_masked_by_its_shape():
    assert redact.SCRUBBER.scrub("GET https://api.telegram.org/bot987654:AAbb-CC_dd/sendMessage") == \
        f"GET https://api.telegram.org/bot{redact.MASK}/sendMessage"


def test_the_cli_logging_set_up_masks_secrets_on_its_console_handler(capsys):
    settings = protected_settings()
    configure_logging("DEBUG", settings)
    root = logging.getLogger()
    assert all(redact.SCRUBBER in h.filters for h in root.handlers)
    record = logging.makeLogRecord({"name": "x", "levelno": logging.ERROR, "levelname": "ERROR",
                                    "msg": "token %s", "args": ("relay-token-Z9x8",)})
    for h in root.handlers:
        h.handle(record)
    assert "relay-token-Z9x8" not in capsys.readouterr().err
