"""Accounts, passwords, lock-out, scope and invitations, against real Redis."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from actions.store import as_text
from bot.console.auth import (
    MAX_FAILURES,
    Account,
    AccountError,
    Permission,
    Role,
    parse_regions,
)
from bot.console.invites import Invite
from bot.console.state import Console

PASSWORD = "kata-sandi-uji-123"


@pytest.fixture
def console(redis: Redis, redis_prefix: str) -> Console:
    return Console.open(redis, redis_prefix)


async def test_passwords_are_stored_as_argon2_hashes(
    console: Console, redis: Redis, redis_prefix: str
) -> None:
    await console.accounts.create("cli", "dinkes", Role.ADMIN, (), PASSWORD)
    stored = await redis.hget(f"{redis_prefix}console:user:dinkes", "password")
    assert stored is not None and as_text(stored).startswith("$argon2id$")
    assert PASSWORD not in as_text(stored)
    assert await console.accounts.authenticate("dinkes", PASSWORD) == "ok"
    assert await console.accounts.authenticate("dinkes", PASSWORD + "x") == "wrong"


async def test_a_short_password_and_a_taken_name_are_refused(console: Console) -> None:
    with pytest.raises(AccountError, match="minimal 10"):
        await console.accounts.create("cli", "dinkes", Role.ADMIN, (), "pendek")
    await console.accounts.create("cli", "dinkes", Role.ADMIN, (), PASSWORD)
    with pytest.raises(AccountError, match="sudah dipakai"):
        await console.accounts.create("cli", "dinkes", Role.PROMOTER, (), PASSWORD)


async def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(
    console: Console,
) -> None:
    await console.accounts.create("cli", "promkes", Role.PROMOTER, (), PASSWORD)
    results = [await console.accounts.authenticate("promkes", "salah-salah") for _ in range(5)]
    assert results == ["wrong"] * (MAX_FAILURES - 1) + ["locked"]
    assert await console.accounts.authenticate("promkes", PASSWORD) == "locked"
    # A reset by an admin lifts the lock.
    await console.accounts.set_password("admin", "promkes", "kata-sandi-baru-456")
    assert await console.accounts.authenticate("promkes", "kata-sandi-baru-456") == "ok"


async def test_an_unknown_name_locks_the_same_way(console: Console) -> None:
    """The answers do not tell whether a username exists."""
    results = [await console.accounts.authenticate("tidakada", "salah-salah") for _ in range(6)]
    assert results == ["wrong"] * (MAX_FAILURES - 1) + ["locked", "locked"]


async def test_a_disabled_account_cannot_log_in(console: Console) -> None:
    await console.accounts.create("cli", "kader1", Role.KADER, ("PY1",), PASSWORD)
    await console.accounts.set_disabled("admin", "kader1", True)
    assert await console.accounts.authenticate("kader1", PASSWORD) == "disabled"
    account = await console.accounts.get("kader1")
    assert account is not None and account.disabled


def test_roles_hold_their_permissions() -> None:
    admin = Account("a", Role.ADMIN)
    promoter = Account("p", Role.PROMOTER)
    kader = Account("k", Role.KADER, ("PY1",))
    assert admin.may(Permission.ACCOUNTS) and admin.may(Permission.CONTENT)
    assert promoter.may(Permission.CONTENT) and not promoter.may(Permission.ACCOUNTS)
    assert not kader.may(Permission.CONTENT)
    assert not Account("x", Role.ADMIN, disabled=True).may(Permission.CONTENT)


def test_region_scope() -> None:
    puskesmas = Account("pkm", Role.PUSKESMAS, ("74.10.05",))
    assert puskesmas.covers_region("74.10.05.2001")
    assert not puskesmas.covers_region("74.10.051.2001")  # a prefix of digits is not a parent
    assert not puskesmas.covers_region("74.10.06.2001")
    assert puskesmas.covers_posyandu("PY9", "74.10.05.2001")
    kader = Account("k", Role.KADER, ("PY1",))
    assert kader.covers_posyandu("PY1", "74.10.05.2001")
    assert not kader.covers_posyandu("PY2", "74.10.05.2001")
    assert not kader.covers_region("74.10.05.2001")
    assert Account("a", Role.ADMIN).covers_region("11.01.01.2001")
    assert not Account("a", Role.ADMIN, ("74",)).covers_region("11.01")


def test_region_lists_are_checked_per_role() -> None:
    assert parse_regions(Role.PUSKESMAS, "74.10.05, 74.10.06") == ("74.10.05", "74.10.06")
    assert parse_regions(Role.KADER, "PY74100110081") == ("PY74100110081",)
    with pytest.raises(AccountError, match="kode kecamatan"):
        parse_regions(Role.PUSKESMAS, "")
    with pytest.raises(AccountError, match="tidak dikenali"):
        parse_regions(Role.PUSKESMAS, "desa-saya")


async def test_an_invitation_works_once(console: Console, redis: Redis, redis_prefix: str) -> None:
    invite = Invite("bidan.sari", Role.PUSKESMAS, ("74.10.05",), "dinkes")
    token = await console.invites.create("dinkes", invite)
    [key] = [k async for k in redis.scan_iter(match=f"{redis_prefix}console:invite:*")]
    assert token.encode() not in key  # only a hash of the token is stored
    assert 47 * 3600 < await redis.ttl(key) <= 48 * 3600
    with pytest.raises(AccountError, match="minimal 10"):
        await console.invites.accept(token, "pendek")  # a weak password keeps the link
    account = await console.invites.accept(token, PASSWORD)
    assert (account.role, account.regions) == (Role.PUSKESMAS, ("74.10.05",))
    assert await console.accounts.authenticate("bidan.sari", PASSWORD) == "ok"
    with pytest.raises(AccountError, match="tidak berlaku"):
        await console.invites.accept(token, PASSWORD)


async def test_changes_to_accounts_are_audited_without_secrets(console: Console) -> None:
    await console.accounts.create("cli", "dinkes", Role.ADMIN, (), PASSWORD)
    await console.accounts.set_disabled("dinkes2", "dinkes", True)
    newest, created = await console.audit.latest()
    assert (created.actor, created.action, created.target) == ("cli", "akun.dibuat", "dinkes")
    assert (newest.actor, newest.action) == ("dinkes2", "akun.dinonaktifkan")
    assert newest.before["disabled"] is False and newest.after["disabled"] is True
    assert "password" not in str(created.after) and "argon2" not in str(created.after)
