"""What goes out to each platform, and what each platform's answer does to the send."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
from redis.asyncio import Redis

from actions.pseudonym import user_key
from actions.reminders.model import Send
from bot.reminders import report, schedule
from bot.reminders.senders import Sender, TelegramSender, template_name
from bot.reminders.store import Keys, promote
from tests.reminders.conftest import (
    REMINDER_TEMPLATE,
    Platforms,
    running,
    telegram_bot,
    tg_send,
    until,
    wa_send,
    whatsapp_sender,
)
from tests.reminders.platforms import Bucket

STOP = (("Berhenti", "/unsubscribe"),)


async def open_window(redis: Redis, prefix: str, wa_id: str) -> None:
    await redis.set(f"{prefix}wa:window:{user_key(wa_id)}", "1", ex=3600)


async def test_telegram_gets_the_text_and_a_stop_button(
    redis: Redis, redis_prefix: str, platforms: Platforms
) -> None:
    await schedule(redis, redis_prefix, [tg_send(1, buttons=STOP)])
    async with running(redis, redis_prefix, platforms.senders):
        [sent] = await platforms.telegram.wait_for_sent(1)
    assert sent["chat_id"] == 900001 and sent["text"].startswith("Besok Posyandu")
    button = sent["reply_markup"]["inline_keyboard"][0][0]
    assert (button["text"], button["callback_data"]) == ("Berhenti", "/unsubscribe")


async def test_whatsapp_inside_the_window_gets_the_text_with_reply_buttons(
    redis: Redis, redis_prefix: str, platforms: Platforms
) -> None:
    send = wa_send(1, buttons=STOP)
    await open_window(redis, redis_prefix, send.address)
    await schedule(redis, redis_prefix, [send])
    async with running(redis, redis_prefix, platforms.senders):
        [message] = await platforms.graph.wait_for_messages(1)
    assert message["type"] == "interactive"
    assert message["interactive"]["body"]["text"] == send.text
    assert message["interactive"]["action"]["buttons"][0]["reply"]["id"] == "/unsubscribe"
    assert message["biz_opaque_callback_data"] == send.key


async def test_whatsapp_outside_the_window_gets_the_approved_template(
    redis: Redis, redis_prefix: str, platforms: Platforms
) -> None:
    platforms.graph.enforce_window = True
    send = wa_send(1, buttons=STOP)
    await schedule(redis, redis_prefix, [send])
    async with running(redis, redis_prefix, platforms.senders):
        [message] = await platforms.graph.wait_for_messages(1)
    assert message["type"] == "template"
    template = message["template"]
    assert template["name"] == REMINDER_TEMPLATE and template["language"] == {"code": "id"}
    parameters = template["components"][0]["parameters"]
    assert [p["text"] for p in parameters] == list(send.params)
    assert (await report(redis, redis_prefix, "B1"))["sent"] == 1


async def test_a_window_closed_meanwhile_falls_back_to_the_template(
    redis: Redis, redis_prefix: str, platforms: Platforms
) -> None:
    platforms.graph.enforce_window = True  # Meta says 131047: our window key was stale
    send = wa_send(1)
    await open_window(redis, redis_prefix, send.address)
    await schedule(redis, redis_prefix, [send])
    async with running(redis, redis_prefix, platforms.senders):
        [message] = await platforms.graph.wait_for_messages(1)
    assert message["type"] == "template"
    assert [r.body["type"] for r in platforms.graph.requests] == ["text", "template"]
    assert not await redis.exists(f"{redis_prefix}wa:window:{user_key(send.address)}")


async def test_without_a_configured_template_nothing_is_sent_outside_the_window(
    redis: Redis, redis_prefix: str, platforms: Platforms, graph_api: tuple[Any, str]
) -> None:
    async with aiohttp.ClientSession() as session:
        senders: dict[str, Sender] = {
            "whatsapp": whatsapp_sender(
                session,
                graph_api[1],
                redis,
                redis_prefix,
                reminder_template=None,
                broadcast_template=None,
            )
        }
        await schedule(redis, redis_prefix, [wa_send(1), wa_send(2, template="reminder")])
        async with running(redis, redis_prefix, senders) as worker:
            await until(lambda: worker.outcomes["failed"] == 2)
    assert not platforms.graph.requests
    counts = await report(redis, redis_prefix, "B1")
    assert (counts["failed"], counts["reason:no_template"], counts["sent"]) == (2, 2, 0)
    assert await redis.get(Keys(redis_prefix).done(wa_send(1).key)) == b"failed:no_template"


def test_template_names_come_from_the_send_or_the_settings() -> None:
    assert template_name(wa_send(1), "rem", "bc") == "bc"
    assert template_name(wa_send(1, broadcast=None), "rem", "bc") == "rem"
    assert template_name(wa_send(1, template="reminder"), "rem", "bc") == "rem"
    assert template_name(wa_send(1, template="kawan_sehat_x"), None, None) == "kawan_sehat_x"
    assert template_name(wa_send(1), "rem", None) is None


async def test_stopped_users_are_skipped_and_counted(
    redis: Redis, redis_prefix: str, platforms: Platforms
) -> None:
    sends = [tg_send(1), tg_send(2), wa_send(3)]
    await schedule(redis, redis_prefix, sends)
    # STOP after planning: the engine checks the marker before each send.
    for send in sends[:2]:
        await redis.set(f"{redis_prefix}optout:{send.subscriber}", "1", ex=60)
    async with running(redis, redis_prefix, platforms.senders) as worker:
        await until(lambda: worker.outcomes["opted_out"] == 2 and worker.outcomes["sent"] == 1)
    assert not platforms.telegram.sent
    counts = await report(redis, redis_prefix, "B1")
    assert (counts["opted_out"], counts["sent"], counts["pending"]) == (2, 1, 0)


async def test_users_who_blocked_the_bot_are_recorded_and_marked_unreachable(
    redis: Redis, redis_prefix: str, platforms: Platforms
) -> None:
    platforms.telegram.blocked_chats.add(900001)
    platforms.graph.undeliverable_to.add(wa_send(2).address)
    await schedule(redis, redis_prefix, [tg_send(1), wa_send(2), tg_send(3)])
    async with running(redis, redis_prefix, platforms.senders) as worker:
        await until(lambda: worker.outcomes["blocked"] == 2 and worker.outcomes["sent"] == 1)
    assert await redis.get(f"{redis_prefix}unreachable:{user_key('tg:900001')}") == b"blocked"
    wa_mark = f"{redis_prefix}unreachable:{user_key('wa:' + wa_send(2).address)}"
    assert await redis.get(wa_mark) == b"code 131026"
    counts = await report(redis, redis_prefix, "B1")
    assert (counts["blocked"], counts["reason:blocked"], counts["reason:code_131026"]) == (2, 1, 1)
    events = await redis.xrange(Keys(redis_prefix).events)
    assert sorted(e[b"reason"] for _, e in events) == [b"blocked", b"code_131026"]
    # Known blocked: the next broadcast does not even try.
    calls = len(platforms.telegram.calls)
    await schedule(redis, redis_prefix, [tg_send(1, key="bc:B2:tg1", broadcast="B2")])
    async with running(redis, redis_prefix, platforms.senders) as worker:
        await until(lambda: worker.outcomes["blocked"] == 1)
    assert len(platforms.telegram.calls) == calls


async def test_telegram_429_is_waited_out_and_nothing_is_lost(
    redis: Redis, redis_prefix: str, platforms: Platforms
) -> None:
    platforms.telegram.rate_limit_next(retry_after=1, count=2)
    await schedule(redis, redis_prefix, [tg_send(n) for n in range(5)])
    started = time.monotonic()
    async with running(redis, redis_prefix, platforms.senders) as worker:
        await until(lambda: worker.outcomes["sent"] == 5, timeout=20)
    assert time.monotonic() - started >= 1.0  # retry_after honoured
    statuses = [c.status for c in platforms.telegram.calls if c.method == "sendMessage"]
    assert statuses.count(429) == 2 and statuses.count(200) == 5
    assert sorted(m["chat_id"] for m in platforms.telegram.sent) == [900000 + n for n in range(5)]


async def test_whatsapp_throughput_errors_back_off_and_nothing_is_lost(
    redis: Redis, redis_prefix: str, platforms: Platforms
) -> None:
    platforms.graph.throughput_limit_next(count=3)
    platforms.graph.pair_limit_next(count=1)
    platforms.graph.server_error_next(count=1)
    await schedule(redis, redis_prefix, [wa_send(n) for n in range(4)])
    async with running(redis, redis_prefix, platforms.senders) as worker:
        await until(lambda: worker.outcomes["sent"] == 4, timeout=20)
    assert sorted(m["to"] for m in platforms.graph.messages) == sorted(
        wa_send(n).address for n in range(4)
    )
    assert worker.outcomes["failed"] == 0


async def test_a_platform_held_to_its_limit_gets_no_more_than_it_allows(
    redis: Redis, redis_prefix: str, telegram_api: tuple[Any, str], graph_api: tuple[Any, str]
) -> None:
    telegram, graph = telegram_api[0], graph_api[0]
    telegram.limit, graph.limit = Bucket(20), Bucket(20)
    bot = await telegram_bot(telegram_api[1], per_second=20, per_chat=1)
    async with aiohttp.ClientSession() as session:
        senders: dict[str, Sender] = {
            "telegram": TelegramSender(bot, redis, redis_prefix),
            "whatsapp": whatsapp_sender(session, graph_api[1], redis, redis_prefix, per_second=20),
        }
        await schedule(redis, redis_prefix, [tg_send(n) for n in range(50)])
        await schedule(redis, redis_prefix, [wa_send(n) for n in range(50)])
        async with running(redis, redis_prefix, senders) as worker:
            await until(lambda: worker.outcomes["sent"] == 100, timeout=30)
    await bot.shutdown()
    # Our limiters keep to the platform's rate; network jitter may still make a request
    # arrive a little early now and then: that 429 is waited out, and nothing is lost.
    assert telegram.limit.refused + graph.limit.refused <= 5
    assert len(telegram.sent) == 50 and len(graph.messages) == 50
    assert worker.outcomes["failed"] == 0


async def test_a_send_moved_to_later_waits(
    redis: Redis, redis_prefix: str, platforms: Platforms
) -> None:
    send = tg_send(1)
    await schedule(redis, redis_prefix, [send])
    await promote(redis, redis_prefix)  # in the stream already...
    later = tg_send(1, due=time.time() + 3600)
    assert (await schedule(redis, redis_prefix, [later])).changed == 1  # ...then moved
    async with running(redis, redis_prefix, platforms.senders):
        keys = Keys(redis_prefix)
        await until(lambda: _only_planned(redis, keys))
    assert not platforms.telegram.sent


async def _only_planned(redis: Redis, keys: Keys) -> bool:
    return int(await redis.xlen(keys.stream)) == 0 and int(await redis.zcard(keys.due)) == 1


async def test_a_reminder_of_a_posyandu_the_user_left_is_not_sent(
    redis: Redis, redis_prefix: str, platforms: Platforms
) -> None:
    def session(number: int) -> Send:
        return tg_send(
            number,
            key=f"pos:JKT1:2027-03-10:eve:tg{number}",
            broadcast=None,
            extra={"kind": "posyandu-eve", "posyandu": "JKT1", "session": "2027-03-10"},
        )

    # tg1 still follows Posyandu JKT1; tg2 pressed "Berhenti dari Posyandu ini" after planning.
    await redis.zadd(f"{redis_prefix}possubs:JKT1", {"sub-tg-1": 4102444800})
    await schedule(redis, redis_prefix, [session(1), session(2)])
    async with running(redis, redis_prefix, platforms.senders) as worker:
        await until(lambda: worker.outcomes["sent"] == 1 and worker.outcomes["failed"] == 1)
    assert [m["chat_id"] for m in platforms.telegram.sent] == [900001]


async def test_a_reminder_of_a_session_moved_or_cancelled_after_planning_is_not_sent(
    redis: Redis, redis_prefix: str, platforms: Platforms
) -> None:
    import datetime as dt

    from actions.posyandu.directory import Directory
    from actions.posyandu.schedule import Change

    def session(number: int, posyandu: str) -> Send:
        return tg_send(
            number,
            key=f"pos:{posyandu}:2027-03-10:eve:tg{number}",
            broadcast=None,
            subscriber="",
            extra={"kind": "posyandu-eve", "posyandu": posyandu, "session": "2027-03-10"},
        )

    directory = Directory(redis, redis_prefix)
    march_10 = dt.date(2027, 3, 10)
    await directory.set_changes(
        {
            "P1": [Change(march_10, cancelled=True)],
            "P2": [Change(march_10, new_date=dt.date(2027, 3, 12))],
            "P3": [Change(march_10, new_start=dt.time(13), new_end=dt.time(15))],  # hours only
        }
    )
    await schedule(redis, redis_prefix, [session(1, "P1"), session(2, "P2"), session(3, "P3")])
    async with running(redis, redis_prefix, platforms.senders) as worker:
        await until(lambda: worker.outcomes["sent"] == 1 and worker.outcomes["failed"] == 2)
    assert [m["chat_id"] for m in platforms.telegram.sent] == [900003]
