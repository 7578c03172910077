"""Console accounts: roles, region scope, argon2 passwords and login lock-out.

Redis layout (under the deployment prefix):
- `console:user:<name>`: hash with role, regions (JSON list), password (argon2 hash),
  disabled ("1"/"0"), created (ISO time); `console:users`: the set of names.
- `console:fails:<name>:<client>`: wrong passwords for the name from one client (a keyed
  pseudonym of its IP) in the current 15-minute window; `console:locked:<name>:<client>`:
  present while the name is locked for that client. A lock never reaches other clients,
  so nobody can lock an account out by guessing wrong on purpose.
- `console:fails-all:<name>`: wrong passwords for the name from every client (15
  minutes); past SLOW_AFTER, every attempt on the name waits SLOW_SECONDS first (a
  slow-down for guessing from many addresses, never a lock-out).

Every check of what an account may see or do is in this module.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from redis.asyncio import Redis

from actions.pseudonym import pseudonym
from actions.store import as_text
from bot.console.audit import AuditLog

__all__ = [
    "Account",
    "AccountError",
    "AccountStore",
    "LoginResult",
    "Permission",
    "Role",
    "check_password",
    "normalize_username",
    "parse_count",
    "within_scope",
]

MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 256  # argon2 hashes anything, but a megabyte "password" is an attack
MAX_FAILURES = 5
LOCK_SECONDS = 15 * 60
SLOW_AFTER = 20  # wrong passwords for one name from all clients within LOCK_SECONDS
SLOW_SECONDS = 3.0
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,31}$")
# A region code (Kemendagri, dotted: 74, 74.10, 74.10.05, 74.10.05.2001) or a Posyandu id.
_REGION = re.compile(r"^[0-9]{2}(\.[0-9]{2,4}){0,3}$")
_POSYANDU = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_COUNT = re.compile(r"[0-9]{1,6}")  # ASCII digits only: "²".isdigit() is True, int() fails


class Role(StrEnum):
    ADMIN = "admin"  # Dinkes
    PROMOTER = "promoter"
    PUSKESMAS = "puskesmas"
    KADER = "kader"


ROLE_LABELS = {
    Role.ADMIN: "Admin (Dinkes)",
    Role.PROMOTER: "Promotor kesehatan",
    Role.PUSKESMAS: "Petugas Puskesmas",
    Role.KADER: "Kader Posyandu",
}


class Permission(StrEnum):
    ACCOUNTS = "accounts"  # invite, disable, read the audit log
    CONTENT = "content"  # edit, review, publish and roll back FAQ content


PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.PROMOTER: frozenset({Permission.CONTENT}),
    Role.PUSKESMAS: frozenset(),
    Role.KADER: frozenset(),
}


class AccountError(Exception):
    """A request about accounts that cannot be done; the message is for the user."""


@dataclass(frozen=True)
class Account:
    username: str
    role: Role
    # Admin: [] means every region. Puskesmas: kecamatan codes. Kader: Posyandu ids.
    regions: tuple[str, ...] = ()
    disabled: bool = False
    created: str = ""

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]

    def may(self, permission: Permission) -> bool:
        return not self.disabled and permission in PERMISSIONS[self.role]

    def covers_region(self, code: str) -> bool:
        """Whether a region (a village, a kecamatan...) is inside this account's area."""
        if self.disabled or self.role is Role.KADER:
            return False
        if self.role is Role.ADMIN and not self.regions:
            return True
        return any(code == area or code.startswith(f"{area}.") for area in self.regions)

    def covers_posyandu(self, posyandu_id: str, village_code: str) -> bool:
        """A kader sees their own Posyandu; others see the Posyandu of their area."""
        if self.role is Role.KADER:
            return not self.disabled and posyandu_id in self.regions
        return self.covers_region(village_code)


def within_scope(
    actor: Account,
    role: Role,
    regions: tuple[str, ...],
    villages: Mapping[str, str] | None = None,
) -> bool:
    """Whether `actor` may hand out (invite) or manage an account with this role and area:
    a global admin any; anyone else only an account whose whole area lies inside their own
    (never an account without regions, which for an admin means every region). For a
    kader the regions are Posyandu ids: `villages` maps those found in the directory to
    their village codes (an unknown Posyandu is outside every area)."""
    if actor.disabled:
        return False
    if actor.role is Role.ADMIN and not actor.regions:
        return True
    if not regions:
        return False
    if role is Role.KADER:
        found = villages or {}
        return all(p in found and actor.covers_posyandu(p, found[p]) for p in regions)
    return all(actor.covers_region(code) for code in regions)


def parse_count(raw: str | None, default: int) -> int:
    """A small whole number typed or sent in a URL (ASCII digits, at most 6), else `default`."""
    return int(raw) if raw is not None and _COUNT.fullmatch(raw) else default


def normalize_username(raw: str) -> str | None:
    """The canonical form of a username, or None when it cannot be one."""
    name = raw.strip().lower()
    return name if _USERNAME.fullmatch(name) else None


def check_password(password: str) -> str | None:
    """What is wrong with a new password (Indonesian), or None."""
    if len(password) < MIN_PASSWORD_CHARS:
        return f"Kata sandi minimal {MIN_PASSWORD_CHARS} karakter."
    if len(password) > MAX_PASSWORD_CHARS:
        return f"Kata sandi maksimal {MAX_PASSWORD_CHARS} karakter."
    if not password.strip():
        return "Kata sandi tidak boleh hanya spasi."
    return None


def parse_regions(role: Role, raw: str) -> tuple[str, ...]:
    """Region codes (or Posyandu ids for a kader) from a comma/space separated text."""
    items = tuple(dict.fromkeys(part for part in re.split(r"[\s,;]+", raw.strip()) if part))
    pattern = _POSYANDU if role is Role.KADER else _REGION
    wrong = [item for item in items if not pattern.fullmatch(item)]
    if wrong:
        what = "ID Posyandu" if role is Role.KADER else "kode wilayah"
        raise AccountError(f"{what.capitalize()} tidak dikenali: {', '.join(wrong[:5])}.")
    if not items and role is not Role.ADMIN and role is not Role.PROMOTER:
        raise AccountError(
            "Isi ID Posyandu kader ini."
            if role is Role.KADER
            else "Isi kode kecamatan wilayah kerja petugas ini."
        )
    return items


LoginResult = Literal["ok", "wrong", "locked", "disabled"]


class AccountStore:
    slow_seconds = SLOW_SECONDS  # the wait per attempt on a name guessed from many addresses

    def __init__(
        self, redis: Redis, prefix: str, audit: AuditLog, hasher: PasswordHasher | None = None
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._audit = audit
        self._hasher = hasher or PasswordHasher()
        # Compared against when the username is unknown, so timing does not tell.
        self._decoy = self._hasher.hash("kawan-sehat-decoy-password")

    def _key(self, username: str) -> str:
        return f"{self._prefix}console:user:{username}"

    async def get(self, username: str) -> Account | None:
        raw = await self._redis.hgetall(self._key(username))
        return _account(username, raw) if raw else None

    async def all(self) -> list[Account]:
        names = sorted(
            as_text(n) for n in await self._redis.smembers(f"{self._prefix}console:users")
        )
        accounts = [await self.get(name) for name in names]
        return [a for a in accounts if a is not None]

    async def create(
        self,
        actor: str,
        username: str,
        role: Role,
        regions: tuple[str, ...],
        password: str,
    ) -> Account:
        """A new account; AccountError when the name is taken or the password too weak."""
        if (problem := check_password(password)) is not None:
            raise AccountError(problem)
        hashed = await asyncio.to_thread(self._hasher.hash, password)
        account = Account(username, role, regions, created=_now())
        fields = {**_fields(account), "password": hashed}
        created = await self._redis.hsetnx(self._key(username), "password", hashed)
        if not created:
            raise AccountError("Nama pengguna itu sudah dipakai.")
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._key(username), mapping=fields)
            pipe.sadd(f"{self._prefix}console:users", username)
            await pipe.execute()
        await self._audit.record(actor, "akun.dibuat", username, None, _public(account))
        return account

    async def set_password(self, actor: str, username: str, password: str) -> None:
        if (problem := check_password(password)) is not None:
            raise AccountError(problem)
        if await self.get(username) is None:
            raise AccountError("Akun itu tidak ada.")
        hashed = await asyncio.to_thread(self._hasher.hash, password)
        await self._redis.hset(self._key(username), "password", hashed)
        await self._clear_throttle(username)
        await self._audit.record(actor, "akun.kata_sandi_diganti", username, None, None)

    async def set_disabled(self, actor: str, username: str, disabled: bool) -> Account:
        before = await self.get(username)
        if before is None:
            raise AccountError("Akun itu tidak ada.")
        await self._redis.hset(self._key(username), "disabled", "1" if disabled else "0")
        after = replace(before, disabled=disabled)
        action = "akun.dinonaktifkan" if disabled else "akun.diaktifkan"
        await self._audit.record(actor, action, username, _public(before), _public(after))
        return after

    async def authenticate(
        self, username: str, password: str, client: str = "local"
    ) -> LoginResult:
        """Check a password from `client` (the caller's IP), counting failures: 5 within 15
        minutes lock the name for 15 minutes for that client only. Many failures from all
        clients slow every attempt on the name down instead (the right password from
        another address still gets in)."""
        source = pseudonym(client, "console-login", 16)
        fails, locked = self._throttle_keys(username, source)
        if await self._redis.exists(locked):
            return "locked"
        everywhere = await self._redis.get(self._all_fails_key(username))
        if everywhere is not None and int(everywhere) >= SLOW_AFTER:
            await asyncio.sleep(self.slow_seconds)
        stored = await self._redis.hmget(self._key(username), ["password", "disabled"])
        hashed, disabled = (as_text(v) if v is not None else None for v in stored)
        valid = await asyncio.to_thread(self._verify, hashed or self._decoy, password)
        if hashed is None or not valid:
            return await self._failed(username, source, exists=hashed is not None)
        await self._redis.delete(fails)
        if disabled == "1":
            return "disabled"
        if self._hasher.check_needs_rehash(hashed):
            rehashed = await asyncio.to_thread(self._hasher.hash, password)
            await self._redis.hset(self._key(username), "password", rehashed)
        return "ok"

    def _verify(self, hashed: str, password: str) -> bool:
        try:
            return self._hasher.verify(hashed, password)
        except (VerificationError, InvalidHashError):
            return False

    async def _failed(self, username: str, source: str, exists: bool) -> LoginResult:
        fails, locked = self._throttle_keys(username, source)
        everywhere = self._all_fails_key(username)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(fails)
            pipe.expire(fails, LOCK_SECONDS, nx=True)
            pipe.incr(everywhere)
            pipe.expire(everywhere, LOCK_SECONDS, nx=True)
            count, *_ = await pipe.execute()
        if int(count) < MAX_FAILURES:
            return "wrong"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(locked, "1", ex=LOCK_SECONDS)
            pipe.delete(fails)
            await pipe.execute()
        if exists:  # unknown names are not audited: guessing must not flood the capped log
            after = {"menit": LOCK_SECONDS // 60, "sumber": source[:8]}
            await self._audit.record("sistem", "akun.dikunci", username, None, after)
        return "locked"

    def _throttle_keys(self, username: str, source: str) -> tuple[str, str]:
        return (
            f"{self._prefix}console:fails:{username}:{source}",
            f"{self._prefix}console:locked:{username}:{source}",
        )

    def _all_fails_key(self, username: str) -> str:
        return f"{self._prefix}console:fails-all:{username}"

    async def _clear_throttle(self, username: str) -> None:
        """Lift every lock and count of a name (its password was just reset)."""
        keys = [self._all_fails_key(username)]
        for kind in ("fails", "locked"):
            pattern = f"{self._prefix}console:{kind}:{username}:*"
            keys += [k async for k in self._redis.scan_iter(match=pattern, count=500)]
        await self._redis.delete(*keys)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _fields(account: Account) -> dict[Any, str]:
    return {
        "role": account.role.value,
        "regions": json.dumps(list(account.regions)),
        "disabled": "1" if account.disabled else "0",
        "created": account.created,
    }


def _public(account: Account) -> dict[str, object]:
    """What the audit log keeps about an account (never the password hash)."""
    return {
        "role": account.role.value,
        "regions": list(account.regions),
        "disabled": account.disabled,
    }


def _account(username: str, raw: dict[Any, Any]) -> Account | None:
    values = {as_text(k): as_text(v) for k, v in raw.items()}
    if "role" not in values:
        return None  # half-created (the password was claimed, the rest not yet written)
    return Account(
        username=username,
        role=Role(values["role"]),
        regions=tuple(json.loads(values.get("regions", "[]"))),
        disabled=values.get("disabled") == "1",
        created=values.get("created", ""),
    )
