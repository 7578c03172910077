"""After the emergency reply: answer the question the message also asked, if any."""

from __future__ import annotations

from typing import Any

from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import Action, Tracker
from rasa_sdk.types import DomainDict
from redis.exceptions import RedisError

from actions.constants import FOLLOWUP_MIN_CONFIDENCE, INTENT_EMERGENCY, INTENT_NLU_FALLBACK
from actions.content import ContentStore
from actions.faq import answer_topic, default_store


class ActionEmergencyFollowup(Action):
    """The emergency text was already sent by `utter_emergency`; this adds the FAQ answer.

    Only when the classifier's best non-emergency guess is a published FAQ topic
    with enough confidence (e.g. "anak saya kejang, imunisasi apa ya?").
    """

    def __init__(self, store: ContentStore | None = None) -> None:
        self._store = store

    def name(self) -> str:
        return "action_emergency_followup"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        ranking = tracker.latest_message.get("intent_ranking") or []
        others = [
            entry
            for entry in ranking
            if entry.get("name") not in (INTENT_EMERGENCY, INTENT_NLU_FALLBACK)
        ]
        if not others or (others[0].get("confidence") or 0.0) < FOLLOWUP_MIN_CONFIDENCE:
            return []
        topic = str(others[0].get("name"))
        store = self._store or default_store()
        try:
            published = await store.topic_ids()
        except RedisError:
            return []  # the emergency reply went out; an extra answer is not worth an error
        if topic not in published:
            return []
        return await answer_topic(store, topic, dispatcher)
