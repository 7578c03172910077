"""Register cadres and give them link codes (for the Puskesmas; a console comes later).

    python -m actions.reminders.cli cadre add --posyandu ID [--posyandu ID2 ...]
    python -m actions.reminders.cli cadre code CADRE_ID      # a one-time link code (24 h)
    python -m actions.reminders.cli cadre list
    python -m actions.reminders.cli cadre remove CADRE_ID

Uses REDIS_URL and KS_REDIS_PREFIX like the rest of the action server.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import TextIO

from redis.asyncio import Redis

from actions.posyandu.directory import Directory
from actions.reminders.cadres import (
    CODE_SECONDS,
    add_cadre,
    issue_link_code,
    list_cadres,
    remove_cadre,
)
from actions.reminders.errors import ReminderError
from actions.store import redis_from_env, redis_prefix

__all__ = ["main", "run"]


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m actions.reminders.cli", description=__doc__)
    groups = top.add_subparsers(dest="group", required=True)
    cadre = groups.add_parser("cadre", help="kader Posyandu")
    commands = cadre.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="daftarkan kader untuk satu atau beberapa Posyandu")
    add.add_argument("--posyandu", action="append", required=True, metavar="ID")
    code = commands.add_parser("code", help="buat kode penghubung sekali pakai (24 jam)")
    code.add_argument("cadre_id", metavar="CADRE_ID")
    commands.add_parser("list", help="daftar kader")
    remove = commands.add_parser("remove", help="hapus kader")
    remove.add_argument("cadre_id", metavar="CADRE_ID")
    return top


async def run(
    args: argparse.Namespace, redis: Redis, prefix: str, out: TextIO, now: float | None = None
) -> int:
    """One command; what it did goes to `out` (Indonesian, for Puskesmas staff)."""
    now = time.time() if now is None else now
    try:
        if args.command == "add":
            directory = Directory(redis, prefix)
            cadre = await add_cadre(redis, prefix, args.posyandu, now, directory=directory)
            print(f"Kader terdaftar: {cadre.id} ({', '.join(cadre.posyandu_ids)})", file=out)
            print(f"Buat kode penghubung: cadre code {cadre.id}", file=out)
        elif args.command == "code":
            code = await issue_link_code(redis, prefix, args.cadre_id, now)
            hours = CODE_SECONDS // 3600
            print(
                f"Kode untuk {args.cadre_id}: {code}\n"
                f"Berlaku {hours} jam, sekali pakai. Kader mengirim kode ini ke Kawan Sehat "
                "dari Telegram atau WhatsApp-nya.",
                file=out,
            )
        elif args.command == "list":
            cadres = await list_cadres(redis, prefix)
            if not cadres:
                print("Belum ada kader terdaftar.", file=out)
            for cadre in cadres:
                linked = (
                    f"terhubung lewat {cadre.contact.channel.capitalize()}"
                    if cadre.contact
                    else "belum terhubung"
                )
                print(f"{cadre.id}\t{','.join(cadre.posyandu_ids)}\t{linked}", file=out)
        elif args.command == "remove":
            if not await remove_cadre(redis, prefix, args.cadre_id):
                print(f"Kader {args.cadre_id} tidak terdaftar.", file=out)
                return 1
            print(f"Kader {args.cadre_id} dihapus.", file=out)
    except ReminderError as error:
        print(str(error), file=out)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)

    async def go() -> int:
        redis = redis_from_env()
        try:
            return await run(args, redis, redis_prefix(), sys.stdout)
        finally:
            await redis.aclose()

    return asyncio.run(go())


if __name__ == "__main__":
    sys.exit(main())
