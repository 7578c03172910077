"""The same brain for every channel: one inbound message to Rasa, its replies back out."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from actions.pseudonym import pseudonym, user_key
from bot import cadre, datarights
from bot.channels.inbox import RetryLater
from bot.channels.message import Inbound, Outbound
from bot.metrics import RATE_LIMITED, REPLY_SECONDS
from bot.rasa_client import RasaClient, RasaUnavailable
from bot.safety import SafetyNet
from bot.stopwords import Command, stop_command

__all__ = [
    "Channel",
    "Conversation",
    "count_for_dashboard",
    "first_notice_in_process",
    "user_key",
    "user_tag",
]

logger = logging.getLogger(__name__)

DOWN_NOTICE_SECONDS = 600
# A user who blocked the bot: remembered 90 days (retention policy), cleared when they write.
UNREACHABLE_TTL_SECONDS = 90 * 24 * 3600
ANSWER_TTL = 3600  # Rasa's answer, kept until its replies are out (retries come sooner)
# Counting a turn for the dashboard runs beside the reply: at most this long, and at most
# this many at once (a stalled Redis drops counts rather than piling up tasks).
COUNT_TIMEOUT_SECONDS = 2.0
MAX_COUNTING = 500


class Channel(Protocol):
    name: str

    async def send(self, to: Inbound, replies: list[Outbound]) -> None:
        """Deliver replies to the sender of `to`; retries and failures are the channel's."""


_notified: dict[str, float] = {}


def first_notice_in_process(sender_id: str, seconds: float = DOWN_NOTICE_SECONDS) -> bool:
    """Once per user per `seconds`, kept in memory: for when Redis is what is down."""
    now = time.monotonic()
    if now - _notified.get(sender_id, -seconds) < seconds:
        return False
    if len(_notified) > 10_000:
        _notified.clear()
    _notified[sender_id] = now
    return True


def user_tag(sender_id: str) -> str:
    """A short keyed tag for log lines (chat ids and phone numbers are personal data)."""
    return pseudonym(sender_id, "log", 10)


_counting: set[asyncio.Task[None]] = set()


def count_for_dashboard(
    redis: Redis, prefix: str, sender_id: str, intent: str | None, *, emergency: bool = False
) -> None:
    """Count one turn in the console's dashboard (bot/console/stats.py `record_turn`), in
    the background: the reply never waits for it, and a failure only logs a warning.
    Pleasantries, button answers and turns without an intent cost nothing."""
    try:
        # Imported here: bot.console imports the channels (its preview), which import us.
        from bot.console.stats import NOT_QUESTIONS

        if not emergency and (not intent or intent in NOT_QUESTIONS):
            return
        if len(_counting) >= MAX_COUNTING:
            logger.warning("Dashboard: a turn was not counted (too many waiting for Redis)")
            return
        task = asyncio.create_task(_count(redis, prefix, sender_id, intent, emergency, time.time()))
    except Exception as error:  # a bug in the dashboard never costs the user their reply
        logger.warning("Dashboard: a turn was not counted (%s)", type(error).__name__)
        return
    _counting.add(task)
    task.add_done_callback(_counting.discard)


async def _count(
    redis: Redis, prefix: str, sender_id: str, intent: str | None, emergency: bool, when: float
) -> None:
    from bot.console.stats import record_turn, region_of

    try:
        async with asyncio.timeout(COUNT_TIMEOUT_SECONDS):
            try:
                region = await region_of(redis, prefix, sender_id)
            except RedisError:
                raise
            except Exception as error:  # a bad record: counted where the user is unknown
                logger.warning("Dashboard: region not found (%s)", type(error).__name__)
                region = None
            await record_turn(
                redis,
                prefix,
                intent=intent,
                user=sender_id,
                region_code=region,
                when=when,
                emergency=emergency,
            )
    except Exception as error:  # Redis down or slow, or a bug: the user's reply is unaffected
        logger.warning("Dashboard: a turn was not counted (%s)", type(error).__name__)


class Conversation:
    def __init__(
        self,
        rasa: RasaClient,
        redis: Redis,
        prefix: str,
        messages: dict[str, str],
        safety: SafetyNet,
        *,
        user_messages_per_minute: int,
    ) -> None:
        self._rasa = rasa
        self._redis = redis
        self._prefix = prefix
        self._messages = messages
        self._safety = safety
        self._per_minute = user_messages_per_minute

    async def handle(self, message: Inbound, channel: Channel, attempt: int = 0) -> None:
        """Answer one message. Raises RetryLater when Rasa is down (after one polite notice)."""
        if message.kind == "unsupported":
            await channel.send(message, [Outbound(self._messages["unsupported_message"])])
            return
        text = message.rasa_text()
        if not text:
            return
        command = stop_command(message)  # STOP, MULAI: before NLU, without Rasa
        if attempt == 0 and await self._flooding(message, channel):
            if command is not None:
                await self._obey(command, message)  # a stop counts even over the limit
            return
        obeyed = await self._obey(command, message) if command is not None else None
        if obeyed is not None:
            await channel.send(message, [Outbound(obeyed)])
            return
        cadre_replies = await self._cadre(message)  # cadre commands: before NLU, without Rasa
        if cadre_replies is not None:
            await channel.send(message, cadre_replies)
            return
        answer = await self._remembered(message) if attempt > 0 else None
        if answer is None:
            metadata = {"channel": message.channel, "locale": message.locale}
            try:
                turn = await self._rasa.send(message.sender_id, text, metadata)
            except RasaUnavailable as error:
                if attempt == 0:
                    await self._notice_unavailable(message, channel, text)
                raise RetryLater(f"Rasa unavailable ({error})") from None
            answer = turn.messages
            # Here only: a retry resends the remembered answer and is not counted again.
            count_for_dashboard(self._redis, self._prefix, message.sender_id, turn.intent)
            await self._remember(message, answer)
        replies = Outbound.from_rasa(answer) or [Outbound(self._messages["no_reply"])]
        await channel.send(message, replies)
        if message.timestamp:
            REPLY_SECONDS.labels(message.channel).observe(max(0.0, time.time() - message.timestamp))
        # Before the answer is let go: if erasure fails, the retry resends it and erases.
        await self._after_turn(message, answer)
        with contextlib.suppress(RedisError):
            await self._redis.delete(self._answer_key(message))

    async def _obey(self, command: Command, message: Inbound) -> str | None:
        try:
            return await datarights.obey(self._redis, self._prefix, command, message.sender_id)
        except RedisError:
            raise RetryLater("Redis unavailable for STOP/MULAI") from None

    async def _cadre(self, message: Inbound) -> list[Outbound] | None:
        try:
            return await cadre.answer(self._redis, self._prefix, message)
        except RedisError:
            raise RetryLater("Redis unavailable for a cadre command") from None

    async def _after_turn(self, message: Inbound, answer: list[dict[str, Any]]) -> None:
        """ "hapus data saya", confirmed: erased now that the reply is out (or a stop finished)."""
        try:
            report = await datarights.after_turn(
                self._redis, self._prefix, message.sender_id, answer
            )
        except RedisError:
            raise RetryLater("Redis unavailable after the turn (erasure or stop)") from None
        if report is not None:
            logger.info(
                "Erased the data of %s: %d keys, %d questions, %d dead letters",
                user_tag(message.sender_id),
                report.keys,
                report.unanswered,
                report.dead_letters,
            )

    def _answer_key(self, message: Inbound) -> str:
        return f"{self._prefix}answer:{user_key(message.sender_id)}:{message.message_id}"

    async def _remember(self, message: Inbound, answer: list[dict[str, Any]]) -> None:
        """Keep Rasa's answer until the replies are out: a retry resends it, never re-asks Rasa
        (which would see the user's message twice)."""
        try:
            await self._redis.set(self._answer_key(message), json.dumps(answer), ex=ANSWER_TTL)
        except RedisError:
            logger.info("Could not keep the answer for %s", user_tag(message.sender_id))

    async def _remembered(self, message: Inbound) -> list[dict[str, Any]] | None:
        try:
            stored = await self._redis.get(self._answer_key(message))
        except RedisError:
            return None
        if stored is None:
            return None
        answer = json.loads(stored)
        return answer if isinstance(answer, list) else None

    async def _flooding(self, message: Inbound, channel: Channel) -> bool:
        """Over the per-user limit this minute: one polite notice, then silence until it passes."""
        minute = int((message.timestamp or time.time()) // 60)
        key = f"{self._prefix}flood:{user_key(message.sender_id)}:{minute}"
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, 120)
                count, _ = await pipe.execute()
        except RedisError:
            return False  # never refuse a user because the limiter is down
        if count <= self._per_minute:
            return False
        RATE_LIMITED.labels("user_flood").inc()
        if count == self._per_minute + 1:
            logger.info(
                "User %s over %d messages/min", user_tag(message.sender_id), self._per_minute
            )
            await channel.send(message, [Outbound(self._messages["slow_down"])])
        return True

    async def _notice_unavailable(self, message: Inbound, channel: Channel, text: str) -> None:
        """One "coba lagi sebentar" per user per outage; a danger sign gets 119 first."""
        replies = []
        emergency = self._safety.reply_for(text)
        if emergency is not None:
            replies.append(Outbound(emergency))
        if await self._first_notice(message.sender_id):
            replies.append(Outbound(self._messages["rasa_delayed"]))
        if replies:
            await channel.send(message, replies)

    async def _first_notice(self, sender_id: str) -> bool:
        key = f"{self._prefix}notice:down:{user_key(sender_id)}"
        try:
            return bool(await self._redis.set(key, "1", nx=True, ex=DOWN_NOTICE_SECONDS))
        except RedisError:
            return True
