"""Keyed pseudonyms for chat ids and phone numbers (personal data).

A plain SHA-256 of a phone number is not a pseudonym: there are only about
10^10 Indonesian mobile numbers, so anyone with the hash finds the number in
minutes. Log tags and Redis key names therefore use HMAC-SHA256 with the
deployment's secret (`KS_SECRET_KEY`), with a purpose label so a log tag cannot
be matched with a key name. Without the secret the same input gives another
pseudonym: rotating it detaches (and, once expired, forgets) what was keyed by it.

Without KS_SECRET_KEY: production refuses (`require_secret`); development uses
a random key for the life of the process (`make run` keeps one in build/).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from functools import lru_cache

__all__ = ["SECRET_VARIABLE", "deployment_secret", "pseudonym", "require_secret", "user_key"]

logger = logging.getLogger(__name__)

SECRET_VARIABLE = "KS_SECRET_KEY"
MIN_SECRET_LENGTH = 16


@lru_cache(maxsize=1)
def _key() -> bytes:
    value = os.environ.get(SECRET_VARIABLE, "")
    if value:
        return value.encode()
    logger.warning("%s is not set: pseudonyms change when this process restarts", SECRET_VARIABLE)
    return secrets.token_bytes(32)


def deployment_secret() -> bytes:
    """The key behind pseudonyms (also signs web sessions)."""
    return _key()


def require_secret() -> str | None:
    """Why this process must not start (production without a good secret), or None."""
    value = os.environ.get(SECRET_VARIABLE, "")
    if os.environ.get("KS_ENV") == "production" and len(value) < MIN_SECRET_LENGTH:
        return f"{SECRET_VARIABLE} of at least {MIN_SECRET_LENGTH} characters is required"
    return None


def pseudonym(value: str, purpose: str, length: int = 32) -> str:
    """A stable, non-reversible stand-in for `value` (hex, `length` characters)."""
    digest = hmac.new(_key(), f"{purpose}\x00{value}".encode(), hashlib.sha256)
    return digest.hexdigest()[:length]


def user_key(sender_id: str) -> str:
    """A user's pseudonym in Redis key names: the Rasa sender id (`tg:<chat id>`,
    `wa:<wa_id>`, `web:<session>`) or a WhatsApp wa_id, keyed and not reversible."""
    return pseudonym(sender_id, "key", 24)
