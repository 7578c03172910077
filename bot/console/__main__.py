"""Console accounts from the command line (REDIS_URL and KS_REDIS_PREFIX as the gateway).

    python -m bot.console create-admin <username>
    python -m bot.console reset-password <username>

The password is asked twice without echo on a terminal, or read from the first
line of stdin otherwise (`... < file`); never from the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import TextIO

from actions.store import redis_from_env, redis_prefix
from bot.console.auth import AccountError, Role, normalize_username
from bot.console.state import Console

__all__ = ["create_admin", "main", "reset_password"]

CLI_ACTOR = "cli"


async def create_admin(console: Console, username: str, password: str) -> None:
    await console.accounts.create(CLI_ACTOR, username, Role.ADMIN, (), password)


async def reset_password(console: Console, username: str, password: str) -> None:
    """A new password; the account's open sessions end and any lock-out is lifted."""
    await console.accounts.set_password(CLI_ACTOR, username, password)
    await console.sessions.end_all(username)


def read_password(stdin: TextIO | None = None) -> str:
    stdin = stdin or sys.stdin
    if not stdin.isatty():
        return stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Kata sandi (min. 10 karakter): ")
    if getpass.getpass("Ulangi kata sandi: ") != first:
        raise AccountError("Kedua kata sandi tidak sama.")
    return first


async def _run(command: str, username: str, password: str) -> None:
    redis = redis_from_env()
    try:
        console = Console.open(redis, redis_prefix())
        if command == "create-admin":
            await create_admin(console, username, password)
        else:
            await reset_password(console, username, password)
    finally:
        await redis.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.console", description=__doc__)
    parser.add_argument("command", choices=["create-admin", "reset-password"])
    parser.add_argument("username")
    args = parser.parse_args(argv)
    username = normalize_username(args.username)
    if username is None:
        print(
            "Nama pengguna 3-32 karakter: huruf kecil, angka, titik, garis bawah atau strip.",
            file=sys.stderr,
        )
        return 2
    try:
        asyncio.run(_run(args.command, username, read_password()))
    except AccountError as problem:
        print(problem, file=sys.stderr)
        return 1
    done = "dibuat" if args.command == "create-admin" else "diganti kata sandinya"
    print(f"Akun {username} {done}. Masuk di /console/login.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
