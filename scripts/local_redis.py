"""A private Redis server for `make run` when no REDIS_URL is given.

The real `redis-server` (Debian's package; `scripts/ensure-redis-server.sh`
installs it), so everything the project does with Redis in production (Lua
scripts, streams and consumer groups, geo search) works the same on a laptop.
It listens on 127.0.0.1 only, with a password generated for this run, and keeps
its data (append-only file) in a directory of its own, so subscriptions and
saved Posyandu survive a restart; delete the directory to forget everything.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["LocalRedis", "RedisServerMissing"]

INSTALL_HINT = (
    "redis-server is not installed: run scripts/ensure-redis-server.sh (Debian's package),"
    " or set REDIS_URL to a Redis you run yourself"
)


class RedisServerMissing(RuntimeError):
    """No redis-server binary on this machine."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _binary() -> str:
    for candidate in (
        shutil.which("redis-server"),
        "/usr/bin/redis-server",
        "/usr/sbin/redis-server",
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RedisServerMissing(INSTALL_HINT)


@dataclass
class LocalRedis:
    """One redis-server process; `start()` returns its URL (with the password)."""

    data_dir: Path
    maxmemory: str = "1gb"
    port: int = 0
    password: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def config(self) -> str:
        # noeviction: a full Redis refuses writes (the gateway answers "sibuk")
        # rather than silently dropping inbox entries or trackers.
        return "\n".join(
            [
                "bind 127.0.0.1",
                "protected-mode yes",
                f"port {self.port}",
                f"requirepass {self.password}",
                f'dir "{self.data_dir.resolve()}"',
                'save ""',
                "appendonly yes",
                "appendfsync everysec",
                f"maxmemory {self.maxmemory}",
                "maxmemory-policy noeviction",
                'logfile "redis.log"',
                "daemonize no",
                "",
            ]
        )

    def start(self, timeout: float = 10.0) -> str:
        binary = _binary()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or _free_port()
        config = self.data_dir / "redis.conf"
        # The password is in this file, not on the command line (visible in `ps`).
        config.touch(mode=0o600, exist_ok=True)
        config.chmod(0o600)
        config.write_text(self.config(), encoding="utf-8")
        self.process = subprocess.Popen(
            [binary, str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"redis-server exited with {self.process.returncode};"
                    f" see {self.data_dir / 'redis.log'}"
                )
            if self._answers():
                return self.url
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"redis-server did not answer within {timeout:.0f} s")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(f"AUTH {self.password}\r\nPING\r\n".encode())
                return b"+PONG" in _read_until(sock, b"+PONG", 1.0)
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # redis-server flushes the append-only file on SIGTERM
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None


def _read_until(sock: socket.socket, marker: bytes, timeout: float) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while marker not in data and b"-" not in data[:1]:
        chunk = sock.recv(1024)
        if not chunk:
            break
        data += chunk
    return data
