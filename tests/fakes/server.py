"""Serve a fake's aiohttp app on 127.0.0.1 (port 0: any free port)."""

from __future__ import annotations

import socket

from aiohttp import web

__all__ = ["LocalServer"]


class LocalServer:
    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None

    async def start(self, app: web.Application, port: int = 0) -> str:
        """The base URL, `http://127.0.0.1:<port>`."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        return f"http://127.0.0.1:{sock.getsockname()[1]}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
