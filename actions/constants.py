"""Intent, slot and response names shared by the actions (the domain's vocabulary)."""

from typing import Final

INTENT_EMERGENCY: Final = "emergency"
INTENT_CHILD_IMMUNIZATION: Final = "ask_child_immunization"
INTENT_NLU_FALLBACK: Final = "nlu_fallback"

SLOT_LAST_FAQ: Final = "last_faq_id"

RESPONSE_CONTENT_UNAVAILABLE: Final = "utter_content_unavailable"
RESPONSE_TOPIC_UNPUBLISHED: Final = "utter_topic_unpublished"

# Dialogue intents answered with an FAQ topic.
FAQ_FOR_INTENT: Final = {INTENT_CHILD_IMMUNIZATION: "imunisasi.jadwal"}

# A question asked alongside a danger sign is answered only above this confidence.
FOLLOWUP_MIN_CONFIDENCE: Final = 0.5
