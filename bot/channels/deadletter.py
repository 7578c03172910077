"""Dead letters: inbox entries and replies that failed for good, kept until an operator acts.

They live in one Redis stream, `<prefix>deadletter`, capped at about
`DEAD_LETTER_MAX_LEN` (approximate trimming drops the oldest first). Every dead
letter has `kind`, `channel`, `reason` (the exception type and a short message,
long numbers masked), `attempts` and `at` (Unix time), and then:

- kind `entry`: an inbox entry whose handler kept failing, or whose channel had no
  handler. The entry's own fields as accepted (`channel`, `key`, `data`), its
  `entry_id` and `where` (code location). The inbox moves it here atomically.
- kind `reply`: replies a channel could not deliver after its retries. `recipient`
  (Telegram chat id, WhatsApp wa_id) and `payload`, a JSON list of the platform
  requests still unsent: Telegram `sendMessage` parameters, Graph API message bodies.

    python -m bot.channels.deadletter list [--limit N] [--data]
    python -m bot.channels.deadletter replay (--id ID ... | --all)
    python -m bot.channels.deadletter drop (--id ID ... | --all)

It reads REDIS_URL and KS_REDIS_PREFIX (and, to resend replies, the channel
variables) like the gateway. Replaying an entry puts it back into the inbox
stream with its fields and a fresh id, and deletes the dead letter, in one
script: the dedup key is not consulted, so an earlier delivery does not block
it, and the running gateway answers it in order with that user's other messages.
A reply is sent again by this command, straight to the platform with the
gateway's credentials and retries; its dead letter is deleted only once the
platform accepted every message. When it fails again it is replaced, in one
transaction, by a dead letter holding what is still unsent and the new reason.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dtm
import json
import logging
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, Protocol

import aiohttp
from redis.asyncio import Redis
from redis.exceptions import RedisError
from telegram import Bot, InlineKeyboardMarkup
from telegram.error import BadRequest, NetworkError, RetryAfter

from bot.channels.conversation import user_tag
from bot.channels.graph import GraphClient
from bot.channels.inbox import (
    DEAD_LETTER_MAX_LEN,
    dead_letter_stream,
    error_reason,
    inbox_stream,
)
from bot.channels.message import CHANNEL_PREFIXES
from bot.channels.ratelimit import retry_after_seconds
from bot.metrics import DEAD_LETTERED, MESSAGES_OUT
from bot.settings import Settings

__all__ = [
    "ChannelOff",
    "DeadLetter",
    "Outcome",
    "PlatformSender",
    "ReplySender",
    "dead_letter_count",
    "drop",
    "main",
    "read",
    "record_reply",
    "replay",
    "run",
]

PAGE = 500
TELEGRAM_SEND_ATTEMPTS = 4

# KEYS: dead-letter stream, inbox stream. ARGV: dead-letter id.
# The entry goes back with the fields the inbox expects and a fresh id; the dead letter
# is deleted in the same script. False when it is gone (replayed or dropped already).
_REPLAY_ENTRY = """
local found = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #found == 0 then
  return false
end
local fields = found[1][2]
local values = {}
for i = 1, #fields, 2 do
  values[fields[i]] = fields[i + 1]
end
if values['kind'] ~= 'entry' then
  return redis.error_reply('not an inbox entry')
end
local id = redis.call('XADD', KEYS[2], '*', 'channel', values['channel'] or '',
  'key', values['key'] or '', 'data', values['data'] or '')
redis.call('XDEL', KEYS[1], ARGV[1])
return id
"""


@dataclass(frozen=True)
class DeadLetter:
    id: str
    fields: dict[str, str]

    @property
    def kind(self) -> str:
        return self.fields.get("kind", "")

    @property
    def channel(self) -> str:
        return self.fields.get("channel", "")

    @property
    def attempts(self) -> int:
        try:
            return int(self.fields.get("attempts", "0"))
        except ValueError:
            return 0

    @property
    def user(self) -> str:
        """The user's log tag (the same as in the gateway's log lines), never the id itself."""
        if self.kind == "reply":
            prefix = CHANNEL_PREFIXES.get(self.channel, self.channel)
            return user_tag(f"{prefix}:{self.fields.get('recipient', '')}")
        return user_tag(self.fields.get("key", ""))

    @property
    def when(self) -> str:
        try:
            moment = dtm.datetime.fromtimestamp(float(self.fields.get("at", "")), dtm.timezone.utc)
        except ValueError:
            return "?"
        return moment.isoformat(timespec="seconds").replace("+00:00", "Z")

    def messages(self) -> list[dict[str, Any]]:
        """The platform requests of a reply dead letter."""
        payload = json.loads(self.fields.get("payload", "[]"))
        return [m for m in payload if isinstance(m, dict)] if isinstance(payload, list) else []


async def dead_letter_count(redis: Redis, prefix: str) -> int:
    """How many dead letters wait for an operator (for /readyz and metrics); raises RedisError."""
    return int(await redis.xlen(dead_letter_stream(prefix)))


async def record_reply(
    redis: Redis,
    prefix: str,
    *,
    channel: str,
    recipient: str,
    messages: list[dict[str, Any]],
    error: BaseException | str,
    attempts: int,
) -> str:
    """Keep replies a channel could not deliver, to be resent later; the dead letter's id.

    Raises RedisError: the caller lets it fail the inbox entry, which is then retried.
    """
    fields: dict[Any, Any] = {
        "kind": "reply",
        "channel": channel,
        "recipient": recipient,
        "payload": json.dumps(messages, ensure_ascii=False, separators=(",", ":")),
        "reason": error_reason(error),
        "attempts": attempts,
        "at": f"{time.time():.3f}",
    }
    entry_id = await redis.xadd(
        dead_letter_stream(prefix), fields, maxlen=DEAD_LETTER_MAX_LEN, approximate=True
    )
    DEAD_LETTERED.labels("reply").inc()
    MESSAGES_OUT.labels(channel, "dead_letter").inc(len(messages))
    return _text(entry_id)


async def read(
    redis: Redis, prefix: str, ids: Sequence[str] | None = None, limit: int | None = None
) -> AsyncIterator[DeadLetter]:
    """The dead letters named by `ids`, or all of them oldest first (up to `limit`).

    "All" is those present when the reading starts: what is dead-lettered meanwhile
    (a replay that failed again) is not read again.
    """
    stream = dead_letter_stream(prefix)
    if ids is not None:
        for wanted in ids:
            found: Any = await redis.xrange(stream, wanted, wanted)
            for entry_id, fields in found or []:
                yield _letter(entry_id, fields)
        return
    newest: Any = await redis.xrevrange(stream, "+", "-", count=1)
    if not newest:
        return
    end = _text(newest[0][0])
    start, given = "-", 0
    while limit is None or given < limit:
        count = PAGE if limit is None else min(PAGE, limit - given)
        page: Any = await redis.xrange(stream, start, end, count=count) or []
        for entry_id, fields in page:
            given += 1
            yield _letter(entry_id, fields)
        if len(page) < count:
            return
        start = "(" + _text(page[-1][0])


class ReplySender(Protocol):
    async def send(self, channel: str, message: dict[str, Any]) -> None:
        """Deliver one stored platform request; raise when it was not accepted."""


class ChannelOff(Exception):
    """The channel of a dead-lettered reply is not configured here."""


@dataclass(frozen=True)
class Outcome:
    id: str
    ok: bool
    text: str


async def replay(
    redis: Redis, prefix: str, letters: AsyncIterator[DeadLetter], sender: ReplySender
) -> AsyncIterator[Outcome]:
    """Entries back into the inbox, replies sent again; each dead letter deleted after."""
    script = redis.register_script(_REPLAY_ENTRY)
    keys = [dead_letter_stream(prefix), inbox_stream(prefix)]
    async for letter in letters:
        if letter.kind == "entry":
            new_id = await script(keys=keys, args=[letter.id])
            if new_id is None:
                yield Outcome(letter.id, True, "already gone")
            else:
                yield Outcome(letter.id, True, f"back in the inbox as {_text(new_id)}")
        elif letter.kind == "reply":
            yield await _resend(redis, prefix, letter, sender)
        else:
            yield Outcome(letter.id, False, f"unknown kind {letter.kind!r}; kept")


async def _resend(redis: Redis, prefix: str, letter: DeadLetter, sender: ReplySender) -> Outcome:
    messages = letter.messages()
    for index, message in enumerate(messages):
        try:
            await sender.send(letter.channel, message)
        except ChannelOff as off:  # nothing was tried: the dead letter stays as it was
            return Outcome(letter.id, False, f"not sent ({off}); kept")
        except Exception as error:
            kept = await _replace(redis, prefix, letter, messages[index:], error)
            sent = f"{index} of {len(messages)} sent, " if index else ""
            return Outcome(
                letter.id, False, f"failed ({error_reason(error)}); {sent}kept as {kept}"
            )
    await redis.xdel(dead_letter_stream(prefix), letter.id)
    return Outcome(letter.id, True, f"sent ({len(messages)} messages)")


async def _replace(
    redis: Redis,
    prefix: str,
    letter: DeadLetter,
    unsent: list[dict[str, Any]],
    error: BaseException,
) -> str:
    """The reply's dead letter, now with only what is unsent and the new reason, atomically."""
    stream = dead_letter_stream(prefix)
    fields: dict[Any, Any] = {
        **letter.fields,
        "payload": json.dumps(unsent, ensure_ascii=False, separators=(",", ":")),
        "reason": error_reason(error),
        "attempts": letter.attempts + 1,
        "replayed_at": f"{time.time():.3f}",
    }
    async with redis.pipeline(transaction=True) as pipe:
        pipe.xadd(stream, fields, maxlen=DEAD_LETTER_MAX_LEN, approximate=True)
        pipe.xdel(stream, letter.id)
        new_id, _ = await pipe.execute()
    return _text(new_id)


async def drop(redis: Redis, prefix: str, letters: AsyncIterator[DeadLetter]) -> int:
    """Delete dead letters for good; how many were deleted."""
    stream = dead_letter_stream(prefix)
    batch: list[str] = []
    dropped = 0
    async for letter in letters:
        batch.append(letter.id)
        if len(batch) >= PAGE:
            dropped += int(await redis.xdel(stream, *batch))
            batch = []
    if batch:
        dropped += int(await redis.xdel(stream, *batch))
    return dropped


class PlatformSender:
    """Sends dead-lettered replies to Telegram and WhatsApp with the gateway's credentials."""

    def __init__(self, settings: Settings, session: aiohttp.ClientSession) -> None:
        self._settings = settings
        self._session = session
        self._bot: Bot | None = None
        self._graph: GraphClient | None = None

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        if channel == "telegram":
            await self._telegram(message)
        elif channel == "whatsapp":
            await self._whatsapp().send(message)
        else:
            raise ChannelOff(f"no sender for channel {channel!r}")

    async def close(self) -> None:
        if self._bot is not None:
            await self._bot.shutdown()

    async def _telegram(self, message: dict[str, Any]) -> None:
        token = self._settings.telegram_bot_token
        if token is None:
            raise ChannelOff("TELEGRAM_BOT_TOKEN is unset")
        bot = self._bot
        if bot is None:
            base = str(self._settings.telegram_api_base_url).rstrip("/")
            bot = Bot(token.get_secret_value(), f"{base}/bot", f"{base}/file/bot")
            await bot.initialize()
            self._bot = bot
        markup = message.get("reply_markup")
        keyboard = InlineKeyboardMarkup.de_json(markup, bot) if markup else None
        pause = self._settings.retry_backoff_seconds
        for attempt in range(TELEGRAM_SEND_ATTEMPTS):
            last = attempt == TELEGRAM_SEND_ATTEMPTS - 1
            try:
                await bot.send_message(message["chat_id"], message["text"], reply_markup=keyboard)
                return
            except BadRequest:
                raise
            except RetryAfter as error:
                if last:
                    raise
                await asyncio.sleep(retry_after_seconds(error))
            except NetworkError:  # timeouts, 5xx, connection failures
                if last:
                    raise
                await asyncio.sleep(pause * 2**attempt)

    def _whatsapp(self) -> GraphClient:
        settings = self._settings
        if settings.whatsapp_access_token is None or settings.whatsapp_phone_number_id is None:
            raise ChannelOff("WHATSAPP_ACCESS_TOKEN or WHATSAPP_PHONE_NUMBER_ID is unset")
        if self._graph is None:
            self._graph = GraphClient(
                self._session,
                str(settings.whatsapp_api_base_url),
                settings.whatsapp_phone_number_id,
                settings.whatsapp_access_token.get_secret_value(),
                per_second=settings.whatsapp_messages_per_second,
                backoff_seconds=settings.retry_backoff_seconds,
            )
        return self._graph


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot.channels.deadletter",
        description="List, replay or drop the gateway's dead letters "
        "(uses REDIS_URL and KS_REDIS_PREFIX, and the channel variables to resend replies).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="show dead letters, oldest first")
    listing.add_argument("--limit", type=int, default=None, help="show at most this many")
    listing.add_argument(
        "--data", action="store_true", help="also print what was stored (personal data!)"
    )
    for name, text in (
        ("replay", "entries back into the inbox, replies sent again"),
        ("drop", "delete for good"),
    ):
        command = commands.add_parser(name, help=text)
        which = command.add_mutually_exclusive_group(required=True)
        which.add_argument("--id", action="append", dest="ids", metavar="ID", help="repeatable")
        which.add_argument("--all", action="store_true", help="every dead letter present now")
    return parser


async def run(
    argv: Sequence[str], settings: Settings | None = None, out: IO[str] | None = None
) -> int:
    """The command line: 0 when everything asked for was done, 1 when something was not."""
    arguments = _parser().parse_args(argv)
    settings = settings or Settings()
    out = out or sys.stdout
    prefix = settings.redis_prefix
    redis = Redis.from_url(settings.redis_url, socket_connect_timeout=5.0, socket_timeout=10.0)
    try:
        if arguments.command == "list":
            return await _list(redis, prefix, arguments.limit, arguments.data, out)
        ids = None if arguments.all else list(dict.fromkeys(arguments.ids))  # each once
        if arguments.command == "drop":
            dropped = await drop(redis, prefix, read(redis, prefix, ids))
            print(f"dropped {dropped}", file=out)
            return 0 if ids is None or dropped == len(ids) else 1
        return await _replay(redis, prefix, settings, ids, out)
    except (RedisError, OSError) as error:
        print(f"Redis: {type(error).__name__}: {error}", file=out)
        return 1
    finally:
        await redis.aclose()


async def _list(redis: Redis, prefix: str, limit: int | None, data: bool, out: IO[str]) -> int:
    total = await dead_letter_count(redis, prefix)
    print(f"{total} dead letters in {dead_letter_stream(prefix)}", file=out)
    async for letter in read(redis, prefix, limit=limit):
        where = letter.fields.get("where")
        print(
            f"{letter.id}  {letter.when}  {letter.kind:5}  {letter.channel:8}  "
            f"attempts={letter.attempts}  user={letter.user}  {letter.fields.get('reason', '')}"
            + (f"  [{where}]" if where else ""),
            file=out,
        )
        if data:
            stored = letter.fields.get("data") if letter.kind == "entry" else None
            print(f"    {stored if stored is not None else letter.fields.get('payload')}", file=out)
    return 0


async def _replay(
    redis: Redis, prefix: str, settings: Settings, ids: list[str] | None, out: IO[str]
) -> int:
    failed = found = 0
    async with aiohttp.ClientSession() as session:
        sender = PlatformSender(settings, session)
        try:
            async for outcome in replay(redis, prefix, read(redis, prefix, ids), sender):
                found += 1
                failed += not outcome.ok
                print(f"{outcome.id}: {outcome.text}", file=out)
        finally:
            await sender.close()
    if ids is not None and found < len(ids):
        print(f"{len(ids) - found} of the ids given were not found", file=out)
        return 1
    print(f"replayed {found - failed} of {found}", file=out)
    return 1 if failed else 0


def _letter(entry_id: Any, fields: Any) -> DeadLetter:
    return DeadLetter(_text(entry_id), {_text(k): _text(v) for k, v in (fields or {}).items()})


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Bot API URLs carry the token
    sys.exit(asyncio.run(run(sys.argv[1:])))


if __name__ == "__main__":
    main()
