"""Settings from the environment only, validated once at start-up."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, HttpUrl
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every variable is documented in the README's configuration table."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    environment: Literal["development", "production"] = Field(default="development", alias="KS_ENV")
    host: str = Field(default="127.0.0.1", alias="HOST")
    port: int = Field(default=8080, ge=1, le=65535, alias="PORT")
    rasa_url: HttpUrl = Field(default=HttpUrl("http://127.0.0.1:5005"), alias="RASA_URL")
    rasa_token: str | None = Field(default=None, alias="RASA_TOKEN")
    rasa_timeout_seconds: float = Field(default=10.0, gt=0, le=120, alias="RASA_TIMEOUT")
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", alias="REDIS_URL")
    redis_prefix: str = Field(default="ks:", alias="KS_REDIS_PREFIX")
    max_text_chars: int = Field(default=4096, ge=1, le=65536, alias="KS_MAX_TEXT_CHARS")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
