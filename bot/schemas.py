"""Payloads of the chat API (contract in ../shared/spec/product.md)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator


class Location(BaseModel):
    model_config = ConfigDict(extra="ignore")

    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)


class ChatRequest(BaseModel):
    """`{"user_id": "...", "text": "..."}` or `{"user_id": "...", "location": {...}}`.

    `user_id` counts only for integrators with an API key; the web page's
    conversation is bound to its session cookie.
    """

    model_config = ConfigDict(extra="ignore")

    user_id: (
        Annotated[
            str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@+-]+$")
        ]
        | None
    ) = None
    text: str | None = None
    location: Location | None = None

    @model_validator(mode="after")
    def one_of_text_or_location(self) -> ChatRequest:
        has_text = self.text is not None and self.text.strip() != ""
        if has_text == (self.location is not None):
            raise ValueError("send either a non-empty 'text' or a 'location'")
        return self


class Button(BaseModel):
    title: str
    payload: str


class Reply(BaseModel):
    text: str
    buttons: list[Button] = Field(default_factory=list)


class ChatResponse(BaseModel):
    replies: list[Reply]
    intent: str | None
    confidence: float | None
    faq_id: str | None
