from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker

from actions.content import ContentStore, FaqEntry

ENTRIES = {
    "imunisasi.jadwal": {
        "id": "imunisasi.jadwal",
        "title": "Jadwal imunisasi rutin",
        "answer": "Imunisasi rutin bayi dimulai dari HB0 sebelum 24 jam. Bawa Buku KIA.",
        "sources": [{"title": "Buku KIA", "issuer": "Kemenkes RI", "year": 2024}],
        "reviewed": "2026-11-01",
        "related": ["imunisasi.kipi"],
    },
    "imunisasi.kipi": {
        "id": "imunisasi.kipi",
        "title": "Efek setelah imunisasi",
        "answer": "Demam ringan dan bengkak di bekas suntikan biasa terjadi dan hilang 1-2 hari.",
        "sources": [{"title": "Buku KIA", "issuer": "Kemenkes RI", "year": 2024}],
        "reviewed": "2026-11-01",
        "related": ["imunisasi.jadwal"],
    },
}


@pytest.fixture
async def store(redis: Any, redis_prefix: str) -> ContentStore:
    content = ContentStore(redis, redis_prefix)
    await content.publish({k: FaqEntry.model_validate(v) for k, v in ENTRIES.items()})
    return content


def tracker_for(
    intent: str,
    confidence: float = 0.9,
    ranking: list[dict[str, Any]] | None = None,
    text: str = "",
) -> Tracker:
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": ranking or [{"name": intent, "confidence": confidence}],
        "entities": [],
        "metadata": {"channel": "web"},
    }
    return Tracker("web:test", {}, latest, [], False, None, {}, "action_listen")
