"""A Redis tracker store whose cost does not grow with the conversation.

Rasa's RedisTrackerStore keeps every event of a conversation in one JSON value
and, on each save, reads and parses the stored tracker again and merges it
with the new one (an all-pairs comparison of events when sessions differ).
Turn 300 of a chatty WhatsApp user costs seconds. Our policies look back four
turns (MemoizationPolicy max_history 4, rules), so the hot tracker only needs
a bounded recent window:

- Only the latest conversation session is stored (Rasa's session config,
  domain.yml); older sessions are dropped at the first save of a new one.
- Within a session, at most `max_events` events are kept. When there are more,
  the oldest turns are cut at a user message and replaced by a short preamble
  that restores the state at the cut: a session start, the slot values and the
  active form of that moment, and `action_listen`.
- A save writes the tracker it was given (it was retrieved under the
  conversation lock), without reading and merging the stored one.

So a retrieve, a save and the tracker sent to the action server are bounded,
whatever the length of the conversation. The dropped events are not archived:
under the retention policy (README) conversation content is not kept.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Dict, List, Optional, Text

from rasa.core.tracker_store import RedisTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.conversation import Dialogue
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    AllSlotsReset,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)

DEFAULT_MAX_EVENTS = 50


class BoundedRedisTrackerStore(RedisTrackerStore):
    """RedisTrackerStore that keeps the latest session, at most `max_events` of it."""

    def __init__(
        self,
        domain: Domain,
        max_events: int = DEFAULT_MAX_EVENTS,
        **kwargs: Any,
    ) -> None:
        super().__init__(domain, **kwargs)
        self.max_events = max(20, int(max_events))

    async def save(self, tracker: DialogueStateTracker, timeout: Optional[float] = None) -> None:
        await self.stream_events(tracker)
        if not timeout and self.record_exp:
            timeout = self.record_exp
        events = bounded_events(list(tracker.events), self.max_events)
        serialised = json.dumps(Dialogue(tracker.sender_id, events).as_dict())
        self.red.set(self.key_prefix + tracker.sender_id, serialised, ex=timeout)

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        # What is stored is already one bounded session: no splitting needed.
        return await self.retrieve_full_tracker(sender_id)


def bounded_events(events: List[Event], max_events: int) -> List[Event]:
    """The latest session, cut to at most `max_events` (plus a short preamble)."""
    events = latest_session(events)
    if len(events) <= max_events:
        return events
    cut = _cut_index(events, max_events)
    if cut is None:
        return events
    return _preamble(events[:cut], events[cut].timestamp) + events[cut:]


def latest_session(events: List[Event]) -> List[Event]:
    """Events from the `action_session_start` of the last session on."""
    for index in range(len(events) - 1, -1, -1):
        if isinstance(events[index], SessionStarted):
            start = index
            previous = events[index - 1] if index > 0 else None
            if isinstance(previous, ActionExecuted) and (
                previous.action_name == ACTION_SESSION_START_NAME
            ):
                start = index - 1
            return events[start:]
    return events


def _cut_index(events: List[Event], max_events: int) -> Optional[int]:
    """The first user message such that what follows fits in `max_events`."""
    earliest = len(events) - max_events
    for index in range(max(earliest, 1), len(events)):
        if isinstance(events[index], UserUttered):
            return index
    return None


def _preamble(dropped: List[Event], timestamp: float) -> List[Event]:
    """Events that give a fresh tracker the state at the end of `dropped`."""
    slots: Dict[Text, Any] = {}
    active_loop: Optional[Text] = None
    for event in dropped:
        if isinstance(event, (SessionStarted, Restarted, AllSlotsReset)):
            slots.clear()
            if not isinstance(event, AllSlotsReset):
                active_loop = None
        elif isinstance(event, SlotSet):
            slots[event.key] = event.value
        elif isinstance(event, ActiveLoop):
            active_loop = event.name
    # Just before the first kept event, so the order of timestamps holds.
    at = timestamp - 0.001
    preamble: List[Event] = [
        ActionExecuted(ACTION_SESSION_START_NAME, timestamp=at),
        SessionStarted(timestamp=at),
    ]
    preamble += [SlotSet(key, value, timestamp=at) for key, value in slots.items()]
    if active_loop:
        preamble.append(ActiveLoop(active_loop, timestamp=at))
    preamble.append(ActionExecuted(ACTION_LISTEN_NAME, timestamp=at))
    return preamble
