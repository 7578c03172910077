"""Rasa input channel for the Kawan Sehat gateway.

Like Rasa's REST channel, but the answer also carries what the gateway's chat
API promises: the intent, its confidence and the FAQ topic that was answered.
Errors are reported as HTTP 500 with a JSON body instead of an empty list, so
the gateway can tell "no reply" from "Rasa failed".

Every route needs `Authorization: Bearer <RASA_TOKEN>` (the secret the gateway
shares with Rasa; Rasa's own `--auth-token` does not cover channel routes).
Without RASA_TOKEN in Rasa's environment every call is refused.

`/webhooks/gateway/model` (GET: the model in use; PUT {"model_file": path}: load
another) needs `Bearer <RASA_API_TOKEN>` instead: the console's retrain worker and
rollback use it. Unlike Rasa's own `PUT /model`, which loads on the server's event
loop and so stalls every conversation for the tens of seconds a model takes, the
new agent is built in a worker thread while the old one keeps answering, and takes
over once it is ready. Without RASA_API_TOKEN these routes refuse every call.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.shared.core.events import SlotSet, UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

FAQ_SLOT = "last_faq_id"
MAX_TEXT_LENGTH = 4096
TOKEN_VARIABLE = "RASA_TOKEN"
MODEL_TOKEN_VARIABLE = "RASA_API_TOKEN"


def _authorized(request: Request, token: Text) -> Optional[HTTPResponse]:
    """None when the caller holds the shared secret, else the refusal to send."""
    given = request.headers.get("authorization")
    if not given:
        return response.json({"error": "authorization required"}, status=401)
    if not token or not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return response.json({"error": "forbidden"}, status=403)
    return None


class GatewayInput(InputChannel):
    """`POST /webhooks/gateway/webhook` with {sender, message, metadata}."""

    @classmethod
    def name(cls) -> Text:
        return "gateway"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("kawan_gateway_webhook", __name__)
        token = os.environ.get(TOKEN_VARIABLE, "")
        if not token:
            logger.error("%s is not set: the gateway channel refuses every call", TOKEN_VARIABLE)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            refused = _authorized(request, token)
            if refused is not None:
                return refused
            agent = request.app.ctx.agent
            return response.json({"status": "ok", "model_loaded": bool(agent and agent.is_ready())})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            refused = _authorized(request, token)
            if refused is not None:
                return refused
            payload = request.json if isinstance(request.json, dict) else {}
            sender_id = payload.get("sender")
            text = payload.get("message")
            metadata = payload.get("metadata")
            if not isinstance(sender_id, str) or not sender_id:
                return response.json({"error": "sender is required"}, status=400)
            if not isinstance(text, str) or not text.strip():
                return response.json({"error": "message is required"}, status=400)
            if len(text) > MAX_TEXT_LENGTH:
                return response.json({"error": "message is too long"}, status=413)
            collector = CollectingOutputChannel()
            try:
                await on_new_message(
                    UserMessage(
                        text,
                        collector,
                        sender_id,
                        input_channel=self.name(),
                        metadata=metadata if isinstance(metadata, dict) else None,
                    )
                )
                turn = await _describe_turn(request, sender_id)
            except Exception:
                logger.exception("Failed to handle a gateway message")
                return response.json({"error": "message handling failed"}, status=500)
            return response.json({"messages": collector.messages, **turn})

        model_token = os.environ.get(MODEL_TOKEN_VARIABLE, "")
        loading = asyncio.Lock()

        @webhook.route("/model", methods=["GET"])
        async def model_in_use(request: Request) -> HTTPResponse:
            refused = _authorized(request, model_token)
            if refused is not None:
                return refused
            processor = request.app.ctx.agent.processor
            return response.json({"model_file": processor.model_filename if processor else None})

        @webhook.route("/model", methods=["PUT"])
        async def load_model(request: Request) -> HTTPResponse:
            refused = _authorized(request, model_token)
            if refused is not None:
                return refused
            payload = request.json if isinstance(request.json, dict) else {}
            path = payload.get("model_file")
            loop = asyncio.get_running_loop()
            if not isinstance(path, str) or not await loop.run_in_executor(
                None, os.path.isfile, path
            ):
                return response.json({"error": "model_file is not a file here"}, status=400)
            if loading.locked():
                return response.json({"error": "another model is loading"}, status=409)
            async with loading:
                current = request.app.ctx.agent
                try:
                    new = await loop.run_in_executor(None, _agent_beside, current, path)
                except Exception:
                    logger.exception("The model %s did not load", os.path.basename(path))
                    return response.json({"error": "the model did not load"}, status=500)
                request.app.ctx.agent = new
            logger.info("Model %s loaded and in use", os.path.basename(path))
            return response.empty(status=204)

        return webhook


def _agent_beside(current: Any, path: Text) -> Any:
    """A new agent for the model at `path`, sharing the running agent's tracker store,
    lock store and action endpoint (run in a worker thread). The domain is passed so the
    shared tracker store never goes without one while the model loads."""
    from rasa.core.agent import Agent

    agent = Agent(
        domain=current.domain,
        tracker_store=current.tracker_store,
        lock_store=current.lock_store,
        action_endpoint=current.action_endpoint,
        http_interpreter=current.http_interpreter,
    )
    agent.load_model(path)
    if not agent.is_ready():
        raise RuntimeError("the agent is not ready")
    return agent


async def _describe_turn(request: Request, sender_id: Text) -> Dict[Text, Any]:
    """Intent, confidence, entities and answered FAQ topic of the latest turn."""
    agent = request.app.ctx.agent
    tracker = await agent.tracker_store.retrieve(sender_id)
    if tracker is None:
        return {"intent": None, "confidence": None, "faq_id": None, "entities": []}
    parse_data = tracker.latest_message.parse_data if tracker.latest_message else {}
    intent = parse_data.get("intent") or {}
    return {
        "intent": intent.get("name"),
        "confidence": intent.get("confidence"),
        "faq_id": _faq_answered_this_turn(tracker.events),
        "entities": [
            {key: entity.get(key) for key in ("entity", "value", "start", "end")}
            for entity in parse_data.get("entities") or []
        ],
    }


def _faq_answered_this_turn(events: Any) -> Optional[Text]:
    faq_id: Optional[Text] = None
    this_turn: List[Any] = []
    for event in events:
        if isinstance(event, UserUttered):
            this_turn = []
        this_turn.append(event)
    for event in this_turn:
        if isinstance(event, SlotSet) and event.key == FAQ_SLOT:
            faq_id = event.value
    return faq_id
