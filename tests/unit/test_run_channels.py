"""What `make run` tells an operator about the Telegram and WhatsApp channels."""

from __future__ import annotations

from scripts.stack import channel_lines


def test_with_no_tokens_both_channels_are_off_and_the_web_chat_runs() -> None:
    lines = channel_lines({})
    assert any(line.startswith("Telegram: off") and "web chat" in line for line in lines)
    assert any(line.startswith("WhatsApp: off") for line in lines)


def test_a_half_configured_whatsapp_names_what_is_missing() -> None:
    lines = channel_lines({"WHATSAPP_ACCESS_TOKEN": "x", "WHATSAPP_PHONE_NUMBER_ID": "1"})
    (whatsapp,) = [line for line in lines if line.startswith("WhatsApp")]
    assert "WHATSAPP_APP_SECRET" in whatsapp and "WHATSAPP_VERIFY_TOKEN" in whatsapp
    assert "WHATSAPP_ACCESS_TOKEN" not in whatsapp


def test_telegram_webhook_mode_without_a_public_url_points_to_polling() -> None:
    lines = channel_lines({"TELEGRAM_BOT_TOKEN": "1:x"})
    assert "Telegram: on." in lines
    assert any("KS_PUBLIC_URL" in line and "TELEGRAM_MODE=polling" in line for line in lines)
    polling = channel_lines({"TELEGRAM_BOT_TOKEN": "1:x", "TELEGRAM_MODE": "polling"})
    assert not any("KS_PUBLIC_URL" in line for line in polling)
