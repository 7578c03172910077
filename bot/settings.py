"""Settings from the environment only, validated once at start-up."""

from __future__ import annotations

import re
import socket
from typing import Literal

from pydantic import Field, HttpUrl, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every variable is documented in the README's configuration table."""

    # An empty variable (compose passes `${X:-}` as "") counts as unset.
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", frozen=True, env_ignore_empty=True
    )

    environment: Literal["development", "production"] = Field(default="development", alias="KS_ENV")
    host: str = Field(default="127.0.0.1", alias="HOST")
    port: int = Field(default=8080, ge=1, le=65535, alias="PORT")
    rasa_url: HttpUrl = Field(default=HttpUrl("http://127.0.0.1:5005"), alias="RASA_URL")
    rasa_token: SecretStr | None = Field(default=None, alias="RASA_TOKEN")
    # Rasa's own HTTP API (`--enable-api --auth-token`): the console's model rollback
    # loads a model with PUT /model. Unset: rollback is unavailable.
    rasa_api_token: SecretStr | None = Field(default=None, alias="RASA_API_TOKEN")
    rasa_timeout_seconds: float = Field(default=10.0, gt=0, le=120, alias="RASA_TIMEOUT")
    rasa_max_concurrency: int = Field(default=8, ge=1, le=1000, alias="RASA_MAX_CONCURRENCY")
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", alias="REDIS_URL")
    redis_prefix: str = Field(default="ks:", alias="KS_REDIS_PREFIX")
    redis_max_connections: int = Field(
        default=64, ge=4, le=10_000, alias="KS_REDIS_MAX_CONNECTIONS"
    )
    # Telegram's and WhatsApp's own limit, and what our channel in Rasa accepts.
    max_text_chars: int = Field(default=4096, ge=1, le=4096, alias="KS_MAX_TEXT_CHARS")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
    log_format_setting: Literal["json", "text"] | None = Field(default=None, alias="KS_LOG_FORMAT")
    public_url: HttpUrl | None = Field(default=None, alias="KS_PUBLIC_URL")
    instance_name: str = Field(default_factory=socket.gethostname, alias="KS_INSTANCE")
    user_messages_per_minute: int = Field(default=20, ge=1, alias="KS_USER_MESSAGES_PER_MINUTE")
    # The chat API (README "Closed doors"): keys for integrators, limits for the web.
    api_keys: SecretStr | None = Field(default=None, alias="KS_API_KEYS")
    secret_key: SecretStr | None = Field(default=None, alias="KS_SECRET_KEY")
    web_ip_messages_per_minute: int = Field(default=60, ge=1, alias="KS_WEB_IP_MESSAGES_PER_MINUTE")
    web_rasa_share: float = Field(default=0.5, gt=0, le=1, alias="KS_WEB_RASA_SHARE")
    trust_proxy: bool = Field(default=False, alias="KS_TRUST_PROXY")
    metrics_token: SecretStr | None = Field(default=None, alias="KS_METRICS_TOKEN")
    retention_interval_seconds: int = Field(
        default=3600, ge=60, alias="KS_RETENTION_INTERVAL_SECONDS"
    )
    retry_backoff_seconds: float = Field(default=1.0, gt=0, le=60, alias="KS_RETRY_BACKOFF_SECONDS")
    dedup_ttl_hours: int = Field(default=168, ge=1, alias="KS_DEDUP_TTL_HOURS")

    telegram_bot_token: SecretStr | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    telegram_webhook_secret: SecretStr | None = Field(default=None, alias="TELEGRAM_WEBHOOK_SECRET")
    telegram_api_base_url: HttpUrl = Field(
        default=HttpUrl("https://api.telegram.org"), alias="TELEGRAM_API_BASE_URL"
    )
    telegram_mode: Literal["webhook", "polling"] = Field(default="webhook", alias="TELEGRAM_MODE")
    telegram_messages_per_second: float = Field(
        default=30.0, gt=0, alias="TELEGRAM_MESSAGES_PER_SECOND"
    )
    telegram_chat_messages_per_second: float = Field(
        default=1.0, gt=0, alias="TELEGRAM_CHAT_MESSAGES_PER_SECOND"
    )

    whatsapp_access_token: SecretStr | None = Field(default=None, alias="WHATSAPP_ACCESS_TOKEN")
    whatsapp_app_secret: SecretStr | None = Field(default=None, alias="WHATSAPP_APP_SECRET")
    whatsapp_verify_token: SecretStr | None = Field(default=None, alias="WHATSAPP_VERIFY_TOKEN")
    whatsapp_phone_number_id: str | None = Field(
        default=None, alias="WHATSAPP_PHONE_NUMBER_ID", pattern=r"^[0-9]{1,32}$"
    )
    whatsapp_api_base_url: HttpUrl = Field(
        default=HttpUrl("https://graph.facebook.com/v23.0"), alias="WHATSAPP_API_BASE_URL"
    )
    whatsapp_messages_per_second: float = Field(
        default=50.0, gt=0, alias="WHATSAPP_MESSAGES_PER_SECOND"
    )
    whatsapp_template_reengage: str = Field(
        default="kawan_sehat_sapaan", alias="WHATSAPP_TEMPLATE_REENGAGE"
    )
    whatsapp_template_language: str = Field(default="id", alias="WHATSAPP_TEMPLATE_LANGUAGE")
    # Approved templates for reminders and cadre broadcasts outside the 24-hour window, when a
    # planned send names none (the planners read the same variables); unset: such a send is
    # recorded as failed ("no_template"), never sent as free text.
    whatsapp_template_reminder: str | None = Field(
        default=None, alias="KS_WA_TEMPLATE_REMINDER", pattern=r"^[a-z0-9_]{1,512}$"
    )
    whatsapp_template_broadcast: str | None = Field(
        default=None, alias="KS_WA_TEMPLATE_BROADCAST", pattern=r"^[a-z0-9_]{1,512}$"
    )
    # Reminder and broadcast sends at once in this gateway (bot/reminders); 0: none here.
    reminder_workers: int = Field(default=16, ge=0, le=512, alias="KS_REMINDER_WORKERS")
    # How often one gateway asks the planners for the reminders of the next 36 hours.
    reminder_plan_interval_seconds: int = Field(
        default=900, ge=1, le=6 * 3600, alias="KS_REMINDER_PLAN_INTERVAL_SECONDS"
    )

    @property
    def log_format(self) -> str:
        """JSON lines in production, plain text in development, unless KS_LOG_FORMAT says."""
        if self.log_format_setting is not None:
            return self.log_format_setting
        return "json" if self.environment == "production" else "text"

    @property
    def api_key_set(self) -> frozenset[str]:
        raw = self.api_keys.get_secret_value() if self.api_keys else ""
        return frozenset(k.strip() for k in raw.split(",") if k.strip())

    @property
    def web_rasa_slots(self) -> int:
        """How many Rasa slots web traffic may hold; the rest stay for Telegram/WhatsApp."""
        return max(1, int(self.rasa_max_concurrency * self.web_rasa_share))

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_bot_token is not None

    @property
    def whatsapp_enabled(self) -> bool:
        return self.whatsapp_access_token is not None and self.whatsapp_phone_number_id is not None

    def problems(self) -> list[str]:
        """Why this configuration must not start (production refuses unsafe channels)."""
        found = []
        if self.rasa_token is None:
            found.append("RASA_TOKEN is required: the secret our channel in Rasa checks")
        if self.environment == "production" and (
            self.secret_key is None or len(self.secret_key.get_secret_value()) < 16
        ):
            found.append("KS_SECRET_KEY (16+ characters) is required in production")
        if any(len(key) < 16 for key in self.api_key_set):
            found.append("every key in KS_API_KEYS must have 16+ characters")
        if self.whatsapp_enabled and self.whatsapp_app_secret is None:
            found.append("WHATSAPP_APP_SECRET is required to verify WhatsApp webhooks")
        if self.whatsapp_enabled and self.whatsapp_verify_token is None:
            found.append("WHATSAPP_VERIFY_TOKEN is required for the webhook handshake")
        if (
            self.environment == "production"
            and self.telegram_enabled
            and self.telegram_mode == "webhook"
            and self.telegram_webhook_secret is None
        ):
            found.append("TELEGRAM_WEBHOOK_SECRET is required for the Telegram webhook")
        secret = self.telegram_webhook_secret
        if secret is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{1,256}", secret.get_secret_value()
        ):
            found.append("TELEGRAM_WEBHOOK_SECRET may hold only A-Z, a-z, 0-9, _ and - (1-256)")
        return found
