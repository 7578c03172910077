"""`python -m bot.console create-admin|reset-password <username>`."""

from __future__ import annotations

import asyncio
import io

import pytest
from redis.asyncio import Redis

from bot.console.__main__ import main
from bot.console.state import Console
from tests.conftest import TEST_REDIS_URL


@pytest.fixture
def environment(redis_prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", TEST_REDIS_URL)
    monkeypatch.setenv("KS_REDIS_PREFIX", redis_prefix)


async def run(monkeypatch: pytest.MonkeyPatch, stdin: str, *argv: str) -> int:
    """The command with `stdin` piped in (not a terminal: the first line is the password)."""
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return await asyncio.to_thread(main, list(argv))


@pytest.mark.usefixtures("environment")
async def test_create_admin_reads_the_password_from_stdin(
    redis: Redis,
    redis_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert await run(monkeypatch, "rahasia-dinkes-2026\n", "create-admin", "Dinkes") == 0
    assert "Akun dinkes dibuat" in capsys.readouterr().out
    console = Console.open(redis, redis_prefix)
    account = await console.accounts.get("dinkes")
    assert account is not None and account.role == "admin" and account.regions == ()
    assert await console.accounts.authenticate("dinkes", "rahasia-dinkes-2026") == "ok"
    assert await run(monkeypatch, "rahasia-dinkes-2026\n", "create-admin", "dinkes") == 1
    assert "sudah dipakai" in capsys.readouterr().err


@pytest.mark.usefixtures("environment")
async def test_a_short_password_or_a_bad_name_is_refused(
    redis: Redis,
    redis_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert await run(monkeypatch, "pendek\n", "create-admin", "dinkes") == 1
    assert "minimal 10 karakter" in capsys.readouterr().err
    assert await run(monkeypatch, "rahasia-dinkes-2026\n", "create-admin", "a b") == 2
    assert await Console.open(redis, redis_prefix).accounts.all() == []


@pytest.mark.usefixtures("environment")
async def test_reset_password_ends_the_sessions_of_the_account(
    redis: Redis, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    console = Console.open(redis, redis_prefix)
    await run(monkeypatch, "rahasia-dinkes-2026\n", "create-admin", "dinkes")
    session = await console.sessions.start("dinkes")
    assert await run(monkeypatch, "rahasia-baru-2027\n", "reset-password", "dinkes") == 0
    assert await console.sessions.resume(session.token) is None
    assert await console.accounts.authenticate("dinkes", "rahasia-baru-2027") == "ok"
    assert await run(monkeypatch, "rahasia-baru-2027\n", "reset-password", "tidakada") == 1
