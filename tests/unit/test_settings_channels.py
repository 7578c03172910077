"""Channel settings as operators give them (compose passes unset variables as "")."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.settings import Settings

CHANNEL_VARIABLES = (
    "KS_PUBLIC_URL",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_WEBHOOK_SECRET",
    "WHATSAPP_ACCESS_TOKEN",
    "WHATSAPP_APP_SECRET",
    "WHATSAPP_VERIFY_TOKEN",
    "WHATSAPP_PHONE_NUMBER_ID",
)


@pytest.fixture(autouse=True)
def rasa_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASA_TOKEN", "shared-secret")
    monkeypatch.setenv("KS_SECRET_KEY", "deployment-secret-0123456789")


def test_without_the_rasa_secret_the_gateway_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RASA_TOKEN")
    assert any("RASA_TOKEN" in p for p in Settings(_env_file=None).problems())  # type: ignore[call-arg]


def test_texts_longer_than_the_channels_allow_are_refused_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KS_MAX_TEXT_CHARS", "5000")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_empty_variables_leave_the_channels_off(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CHANNEL_VARIABLES:
        monkeypatch.setenv(name, "")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert not settings.telegram_enabled and not settings.whatsapp_enabled
    assert settings.public_url is None
    assert settings.problems() == []


def test_whatsapp_without_its_secrets_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", "EAAx")
    monkeypatch.setenv("WHATSAPP_PHONE_NUMBER_ID", "1098765432")
    problems = Settings(_env_file=None).problems()  # type: ignore[call-arg]
    assert any("WHATSAPP_APP_SECRET" in p for p in problems)
    assert any("WHATSAPP_VERIFY_TOKEN" in p for p in problems)


def test_production_telegram_webhook_needs_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KS_ENV", "production")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    assert any("TELEGRAM_WEBHOOK_SECRET" in p for p in Settings(_env_file=None).problems())  # type: ignore[call-arg]
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "ada spasi")
    assert any("TELEGRAM_WEBHOOK_SECRET" in p for p in Settings(_env_file=None).problems())  # type: ignore[call-arg]
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "Rahasia_123-abc")
    assert Settings(_env_file=None).problems() == []  # type: ignore[call-arg]
