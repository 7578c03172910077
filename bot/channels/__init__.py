"""Messaging channels (Telegram, WhatsApp) carried to the assistant and back."""
