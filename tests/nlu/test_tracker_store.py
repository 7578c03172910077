"""The bounded Redis tracker store: what is kept stays small, the state stays right.

The Rasa environment has no pytest-asyncio; coroutines run with asyncio.run.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import redis
from rasa.core.tracker_store import TrackerStore
from rasa.core.utils import read_endpoints_from_path
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUttered,
)

from connectors.tracker_store import BoundedRedisTrackerStore
from scripts.stack import endpoints_yaml

ROOT = Path(__file__).resolve().parents[2]
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture
def prefix() -> Iterator[str]:
    name = f"kstest{uuid.uuid4().hex[:10]}"
    yield name
    client = redis.Redis.from_url(TEST_REDIS_URL)
    keys = list(client.scan_iter(match=f"{name}:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def store(
    tmp_path: Path, domain: Domain, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> TrackerStore:
    """Loaded from the endpoints file `make run` writes, as Rasa loads it."""
    monkeypatch.setenv("KS_ACTION_TOKEN", "action-secret-for-tests")  # as in Rasa's env
    path = tmp_path / "endpoints.yml"
    path.write_text(endpoints_yaml(TEST_REDIS_URL, 5055, prefix))
    return TrackerStore.create(read_endpoints_from_path(path).tracker_store, domain)


def turn(number: int, at: float) -> list[Any]:
    return [
        UserUttered(
            f"pertanyaan ke-{number}", {"name": "gizi.mpasi", "confidence": 0.9}, timestamp=at
        ),
        ActionExecuted("action_answer_faq", timestamp=at + 0.1),
        BotUttered(f"jawaban {number}", timestamp=at + 0.2),
        SlotSet("last_faq_id", f"gizi.mpasi.{number}", timestamp=at + 0.3),
        ActionExecuted("action_listen", timestamp=at + 0.4),
    ]


async def converse(store: TrackerStore, sender: str, turns: range, start: float) -> None:
    for number in turns:
        tracker = await store.get_or_create_tracker(sender)
        if number == 0:
            tracker.update_with_events(
                [
                    ActionExecuted("action_session_start", timestamp=start),
                    SessionStarted(timestamp=start),
                    ActionExecuted("action_listen", timestamp=start),
                ],
                None,
            )
        tracker.update_with_events(turn(number, start + number), None)
        if number == 1:
            tracker.update(SlotSet("village_code", "7412012003", timestamp=start + number + 0.5))
        await store.save(tracker)


def stored_size(prefix: str, sender: str) -> int:
    value = redis.Redis.from_url(TEST_REDIS_URL).get(f"{prefix}:tracker:{sender}")
    assert value is not None
    return len(value)


def test_the_endpoints_file_loads_the_bounded_store(store: TrackerStore) -> None:
    # Rasa falls back to an in-memory store, with only a warning, when the class is missing.
    assert isinstance(store, BoundedRedisTrackerStore)


def test_a_long_conversation_keeps_a_bounded_tracker_and_its_state(
    store: BoundedRedisTrackerStore, prefix: str
) -> None:
    sender = "tg:long"
    start = time.time() - 1000
    asyncio.run(converse(store, sender, range(0, 50), start))
    size_at_50 = stored_size(prefix, sender)
    asyncio.run(converse(store, sender, range(50, 500), start))
    size_at_500 = stored_size(prefix, sender)
    assert size_at_500 < size_at_50 * 1.2

    tracker = asyncio.run(store.retrieve(sender))
    assert tracker is not None
    assert len(tracker.events) <= store.max_events + 10
    # The state of turn 1 survives the cut; the latest turn is whole.
    assert tracker.get_slot("village_code") == "7412012003"
    assert tracker.get_slot("last_faq_id") == "gizi.mpasi.499"
    assert tracker.latest_message is not None
    assert tracker.latest_message.text == "pertanyaan ke-499"
    # The window starts at a user message, after a preamble that ends listening.
    events = list(tracker.events)
    first_user = next(i for i, e in enumerate(events) if isinstance(e, UserUttered))
    assert isinstance(events[first_user - 1], ActionExecuted)
    assert events[first_user - 1].action_name == "action_listen"
    timestamps = [e.timestamp for e in events]
    assert timestamps == sorted(timestamps)


def test_a_new_session_drops_the_previous_one(
    store: BoundedRedisTrackerStore,
) -> None:
    sender = "wa:sessions"
    start = time.time() - 100_000
    asyncio.run(converse(store, sender, range(0, 5), start))
    tracker = asyncio.run(store.retrieve(sender))
    assert tracker is not None
    later = time.time()
    tracker.update_with_events(
        [
            ActionExecuted("action_session_start", timestamp=later),
            SessionStarted(timestamp=later),
            ActionExecuted("action_listen", timestamp=later),
            *turn(99, later + 1),
        ],
        None,
    )
    asyncio.run(store.save(tracker))
    kept = asyncio.run(store.retrieve_full_tracker(sender))
    assert kept is not None
    texts = [e.text for e in kept.events if isinstance(e, UserUttered)]
    assert texts == ["pertanyaan ke-99"]
    assert kept.get_slot("village_code") is None


def test_the_erase_action_leaves_no_earlier_text_in_the_saved_tracker(
    store: BoundedRedisTrackerStore, prefix: str
) -> None:
    # action_erase_my_data returns SessionStarted: what Rasa saves after it must hold
    # nothing of the conversation before (the gateway then deletes the key as well).
    sender = "wa:6281200000009"
    start = time.time() - 100
    asyncio.run(converse(store, sender, range(0, 3), start))
    tracker = asyncio.run(store.retrieve(sender))
    assert tracker is not None
    now = time.time()
    tracker.update_with_events(
        [
            UserUttered(
                "/confirm_delete_my_data",
                {"name": "confirm_delete_my_data", "confidence": 1.0},
                timestamp=now,
            ),
            ActionExecuted("action_erase_my_data", timestamp=now + 0.1),
            BotUttered("Semua data Anda sudah dihapus.", timestamp=now + 0.2),
            SessionStarted(timestamp=now + 0.3),
            ActionExecuted("action_listen", timestamp=now + 0.4),
        ],
        None,
    )
    asyncio.run(store.save(tracker))
    stored = redis.Redis.from_url(TEST_REDIS_URL).get(f"{prefix}:tracker:{sender}")
    assert stored is not None
    assert b"pertanyaan ke-" not in stored and b"confirm_delete_my_data" not in stored
    assert b"village_code" not in stored
