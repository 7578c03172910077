"""Who may use the chat API as whom, and how fast: what a visitor or an attacker would notice."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import DummyCookieJar
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from tests.gateway.conftest import INTEGRATOR, FakeRasa, settings_for

Client = TestClient[Any, Any]


def senders(fake: FakeRasa) -> list[str]:
    return [r["sender"] for r in fake.requests]


async def test_the_page_issues_an_httponly_strict_session_cookie(browser: Client) -> None:
    response = await browser.get("/")
    cookie = response.cookies["ks_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    assert len(cookie.value) > 30


async def test_a_visitor_cannot_choose_whose_conversation_it_is(
    browser: Client, fake_rasa: tuple[FakeRasa, str]
) -> None:
    await browser.get("/")
    for victim in ("u1", "tg:555001", "web:u1"):
        response = await browser.post("/api/v1/chat", json={"user_id": victim, "text": "halo"})
        assert response.status == 200
    sent = senders(fake_rasa[0])
    assert len(set(sent)) == 1, "all bound to the visitor's own session"
    assert not any(victim in s for s in sent for victim in ("u1", "555001"))


async def test_a_forged_session_cookie_is_not_accepted(
    fake_rasa: tuple[FakeRasa, str], redis_prefix: str
) -> None:
    app = create_app(settings_for(fake_rasa[1], redis_prefix))
    async with TestClient(TestServer(app)) as client:
        page = await client.get("/")
        real = page.cookies["ks_session"].value
        session_id = real.split(".")[0]
        forged = f"{session_id[:-1]}{'A' if session_id[-1] != 'A' else 'B'}.{real.split('.')[1]}"
        await client.post(
            "/api/v1/chat", json={"text": "halo"}, cookies={"ks_session": "victim.c2lnbmF0dXJl"}
        )
        await client.post("/api/v1/chat", json={"text": "halo"}, cookies={"ks_session": forged})
    sent = senders(fake_rasa[0])
    assert "web:victim" not in sent
    assert f"web:{forged.split('.')[0]}" not in sent


async def test_two_visitors_are_two_conversations(
    fake_rasa: tuple[FakeRasa, str], redis_prefix: str
) -> None:
    app = create_app(settings_for(fake_rasa[1], redis_prefix))
    async with TestServer(app) as server:
        for _ in range(2):
            async with aiohttp.ClientSession() as visitor:  # its own cookie jar
                await visitor.get(server.make_url("/"))
                await visitor.post(server.make_url("/api/v1/chat"), json={"text": "halo"})
    assert len(set(senders(fake_rasa[0]))) == 2


async def test_an_integrator_key_keeps_the_documented_user_id(
    gateway: Client, fake_rasa: tuple[FakeRasa, str]
) -> None:
    response = await gateway.post("/api/v1/chat", json={"user_id": "pkm-42", "text": "halo"})
    assert response.status == 200
    assert senders(fake_rasa[0]) == ["web:pkm-42"]


async def test_a_wrong_api_key_is_refused(browser: Client, fake_rasa: tuple[FakeRasa, str]) -> None:
    response = await browser.post(
        "/api/v1/chat",
        json={"user_id": "u1", "text": "halo"},
        headers={"Authorization": "Bearer not-a-key-we-issued"},
    )
    assert response.status == 401
    assert fake_rasa[0].requests == []


async def test_a_flooding_session_gets_429_with_retry_after(
    fake_rasa: tuple[FakeRasa, str], redis_prefix: str
) -> None:
    settings = settings_for(fake_rasa[1], redis_prefix, KS_USER_MESSAGES_PER_MINUTE=5)
    async with TestClient(TestServer(create_app(settings))) as client:
        await client.get("/")
        statuses = []
        for _ in range(8):
            response = await client.post("/api/v1/chat", json={"text": "halo"})
            statuses.append(response.status)
        assert statuses == [200] * 5 + [429] * 3
        assert 1 <= int(response.headers["Retry-After"]) <= 61
        body = await response.json()
        assert "Tunggu sebentar" in body["error"]["message"]
    assert len(fake_rasa[0].requests) == 5


async def test_new_cookies_do_not_escape_the_per_ip_limit(
    fake_rasa: tuple[FakeRasa, str], redis_prefix: str
) -> None:
    settings = settings_for(fake_rasa[1], redis_prefix, KS_WEB_IP_MESSAGES_PER_MINUTE=4)
    # A script that throws every cookie away gets a new session each time.
    async with TestClient(TestServer(create_app(settings)), cookie_jar=DummyCookieJar()) as client:
        statuses = [
            (await client.post("/api/v1/chat", json={"text": "halo"})).status for _ in range(6)
        ]
    assert statuses == [200] * 4 + [429] * 2


async def test_integrators_are_not_held_to_the_per_ip_limit(
    fake_rasa: tuple[FakeRasa, str], redis_prefix: str
) -> None:
    settings = settings_for(fake_rasa[1], redis_prefix, KS_WEB_IP_MESSAGES_PER_MINUTE=2)
    async with TestClient(TestServer(create_app(settings)), headers=INTEGRATOR) as client:
        for number in range(6):
            response = await client.post(
                "/api/v1/chat", json={"user_id": f"u{number}", "text": "halo"}
            )
            assert response.status == 200


async def test_security_headers_on_page_and_api(browser: Client) -> None:
    for response in (
        await browser.get("/"),
        await browser.post("/api/v1/chat", json={"text": "halo"}),
        await browser.post("/api/v1/chat", data=b"{bad"),
    ):
        headers = response.headers
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"


async def test_typed_intent_text_is_read_as_words(
    browser: Client, fake_rasa: tuple[FakeRasa, str]
) -> None:
    await browser.get("/")
    for typed in ("/emergency", '/share_location{"lat": 1, "lon": 2}', "//"):
        assert (await browser.post("/api/v1/chat", json={"text": typed})).status == 200
    messages = [r["message"] for r in fake_rasa[0].requests]
    assert messages == ["emergency", 'share_location{"lat": 1, "lon": 2}', "?"]
    assert not any(m.startswith("/") for m in messages)


async def test_a_button_we_offered_comes_back_as_its_payload(
    browser: Client, fake_rasa: tuple[FakeRasa, str]
) -> None:
    await browser.get("/")
    first = await browser.post("/api/v1/chat", json={"text": "/greet"})
    offered = (await first.json())["replies"][0]["buttons"][0]["payload"]
    assert offered == "/imunisasi.kipi"
    await browser.post("/api/v1/chat", json={"text": offered})
    messages = [r["message"] for r in fake_rasa[0].requests]
    assert messages == ["/greet", "/imunisasi.kipi"]


async def test_a_deeply_nested_body_is_a_400_not_a_500(gateway: Client) -> None:
    arrays = b"[" * 30_000 + b"]" * 30_000
    in_a_field = b'{"user_id": "u1", "text": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    for body in (arrays, in_a_field):
        assert len(body) < 64 * 1024  # under the body limit: it is parsed
        response = await gateway.post(
            "/api/v1/chat", data=body, headers={"Content-Type": "application/json"}
        )
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "too_deeply_nested"
