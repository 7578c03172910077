"""The sending engine feeds the console's dashboard: a Posyandu's reminders sent and delivered."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from actions.posyandu.directory import Directory
from actions.posyandu.records import PosyanduRecord
from actions.pseudonym import user_key
from actions.reminders.consent import PURPOSE_POSYANDU, consent_text, record_consent
from actions.reminders.store import Contact, subscribe_posyandu
from actions.retention import POLICY
from bot.console.stats import iso_week, posyandu_table
from bot.reminders import schedule
from bot.reminders.store import Keys
from tests.channels.conftest import start_stack
from tests.fakes import graph_api as wa
from tests.fakes.rasa_api import EchoRasa
from tests.reminders.conftest import REMINDER_TEMPLATE, tg_send, until, wa_send

MELATI = PosyanduRecord(
    id="P-MELATI",
    name="Posyandu Melati",
    village_code="31.71.01.1001",
    lat=-6.17,
    lon=106.82,
    schedule="setiap tanggal 10, 08.00-11.00",
)
BROADCAST = {"kind": "broadcast", "posyandu": "P-MELATI", "cadre": "K1"}


@pytest.fixture
async def rasa() -> AsyncIterator[tuple[EchoRasa, str]]:
    fake = EchoRasa()
    url = await fake.start()
    yield fake, url
    await fake.close()


async def ten_subscribers(redis: Redis, prefix: str) -> None:
    """A Posyandu with fewer than 10 subscribers shows none of its counts."""
    await Directory(redis, prefix).upsert([MELATI])
    now = time.time()
    for number in range(10):
        user = user_key(f"tg:{800000 + number}")
        version = consent_text(PURPOSE_POSYANDU).version
        await record_consent(redis, prefix, user, PURPOSE_POSYANDU, version, now)
        await subscribe_posyandu(
            redis, prefix, user, MELATI.id, Contact("telegram", str(800000 + number)), now
        )


async def melati_row(redis: Redis, prefix: str) -> tuple[Any, ...]:
    now = time.time()
    # The sends' week is the one at their Posyandu's offset: around WIB's, a day either way.
    weeks = sorted({iso_week(now + days * 24 * 3600) for days in (-1, 0, 1)})
    [row] = await posyandu_table(redis, prefix, weeks=weeks, posyandu_ids=[MELATI.id], now=now)
    return (row.subscribers, row.sent, row.delivered, row.failed)


async def test_a_reminder_sent_and_delivered_shows_in_the_posyandu_table(
    rasa: tuple[EchoRasa, str],
    telegram_api: tuple[Any, str],
    graph_api: tuple[Any, str],
    redis: Redis,
    redis_prefix: str,
) -> None:
    await ten_subscribers(redis, redis_prefix)
    stack = await start_stack(
        rasa, telegram_api, graph_api, redis_prefix, KS_WA_TEMPLATE_BROADCAST=REMINDER_TEMPLATE
    )
    try:
        await schedule(
            redis,
            redis_prefix,
            [
                tg_send(1, extra=BROADCAST),
                wa_send(2, extra=BROADCAST),
                tg_send(3),  # not a Posyandu's: not in its counts
            ],
        )
        await stack.telegram.wait_for_sent(2)
        await stack.graph.wait_for_messages(1)

        async def both_sent() -> bool:
            return await melati_row(redis, redis_prefix) == (10, 2, 0, 0)

        await until(both_sent)
        wamid = "wamid.HBgM000000000001"  # the fake Graph API's first message id
        number = wa_send(2).address
        updates = [wa.status_update(wamid, number, s) for s in ("sent", "delivered", "read")]
        for _ in range(2):  # Meta delivers webhooks more than once
            assert await stack.whatsapp_payload(wa.envelope(statuses=updates)) == 200
        assert await melati_row(redis, redis_prefix) == (10, 2, 1, 0)  # delivered once
    finally:
        await stack.client.close()

    # Which Posyandu a WhatsApp message was for is kept no longer than the policy says.
    limit = next(k.max_seconds for k in POLICY if k.pattern == "stats:wamid:*")
    kept = [k async for k in redis.scan_iter(match=f"{redis_prefix}stats:wamid:*")]
    ttls = [await redis.ttl(k) for k in kept]
    assert ttls and all(0 < ttl <= limit for ttl in ttls)
    assert wamid not in str(kept)


async def test_a_reminder_the_session_change_stopped_is_no_failure(
    rasa: tuple[EchoRasa, str],
    telegram_api: tuple[Any, str],
    graph_api: tuple[Any, str],
    redis: Redis,
    redis_prefix: str,
) -> None:
    await ten_subscribers(redis, redis_prefix)
    stack = await start_stack(rasa, telegram_api, graph_api, redis_prefix)
    try:
        left = {"kind": "posyandu-eve", "posyandu": MELATI.id, "session": "2030-01-10"}
        gone = tg_send(4, extra=left, subscriber="not-a-subscriber", broadcast=None)
        blocked = tg_send(5, extra=BROADCAST)
        stack.telegram.blocked_chats.add(int(blocked.address))
        await schedule(redis, redis_prefix, [gone, blocked])

        done = [Keys(redis_prefix).done(send.key) for send in (gone, blocked)]

        async def both_done() -> bool:
            return bool(await redis.exists(*done) == 2)

        await until(both_done)
        assert await redis.get(done[0]) == b"failed:unsubscribed"
        # Blocked counts as failed; the one who left the Posyandu is no failure.
        assert await melati_row(redis, redis_prefix) == (10, 0, 0, 1)
    finally:
        await stack.client.close()
