"""Answer FAQ topics from the published content store."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import Action, Tracker
from rasa_sdk.types import DomainDict
from redis.exceptions import RedisError

from actions.constants import (
    FAQ_FOR_INTENT,
    RESPONSE_CONTENT_UNAVAILABLE,
    RESPONSE_TOPIC_UNPUBLISHED,
    SLOT_LAST_FAQ,
)
from actions.content import ContentStore
from actions.store import redis_prefix, shared_redis

logger = logging.getLogger(__name__)


def default_store() -> ContentStore:
    return ContentStore(shared_redis(), redis_prefix())


async def answer_topic(
    store: ContentStore, topic: str, dispatcher: CollectingDispatcher
) -> list[dict[str, Any]]:
    """Send the published answer of `topic` with its source and related topics as buttons."""
    try:
        entry = await store.get(topic)
        related = await store.titles(list(entry.related)) if entry else {}
    except (RedisError, ValidationError):
        logger.exception("Content store unavailable while answering %s", topic)
        dispatcher.utter_message(response=RESPONSE_CONTENT_UNAVAILABLE)
        return []
    if entry is None:
        logger.warning("Topic %s is not published", topic)
        dispatcher.utter_message(response=RESPONSE_TOPIC_UNPUBLISHED)
        return []
    buttons = [{"title": title, "payload": f"/{topic_id}"} for topic_id, title in related.items()]
    dispatcher.utter_message(text=f"{entry.answer}\n\n{entry.source_line()}", buttons=buttons)
    return [SlotSet(SLOT_LAST_FAQ, entry.id)]


class ActionAnswerFaq(Action):
    """Answers the topic of the latest intent (FAQ intents are named by topic id)."""

    def __init__(self, store: ContentStore | None = None) -> None:
        self._store = store

    def name(self) -> str:
        return "action_answer_faq"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name") or ""
        topic = FAQ_FOR_INTENT.get(intent, intent)
        return await answer_topic(self._store or default_store(), topic, dispatcher)
