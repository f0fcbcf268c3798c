"""``virtuoso discord-test`` against the local receiver: exit 0 delivered, 1 refused, 2 bad settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.discord_receiver import DiscordReceiver
from virtuoso.app.cli import main


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.delenv("VIRTUOSO_DISCORD__WEBHOOK_URL", raising=False)


def test_discord_test_delivers_one_message_and_exits_zero(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with DiscordReceiver() as r:
        monkeypatch.setenv("VIRTUOSO_DISCORD__WEBHOOK_URL", r.url)
        assert main(["discord-test"]) == 0
        assert len(r.received) == 1 and "test" in r.payloads()[0]["embeds"][0]["title"]
    out = capsys.readouterr().out
    assert "delivered" in out and "token-abc" not in out


def test_discord_test_reports_discords_refusal_and_exits_one(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with DiscordReceiver() as r:
        monkeypatch.setenv("VIRTUOSO_DISCORD__WEBHOOK_URL", r.url_for("1/revoked-token"))
        assert main(["discord-test"]) == 1
    err = capsys.readouterr().err
    assert "Unknown Webhook" in err and "revoked-token" not in err


def test_discord_test_without_a_webhook_exits_two(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["discord-test"]) == 2
    assert "VIRTUOSO_DISCORD__WEBHOOK_URL" in capsys.readouterr().err
