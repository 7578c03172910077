"""Start the whole assistant locally: Redis, the action server, Rasa and the
gateway. `make run` calls this; tests and benchmarks use `Stack` to run the
same processes.

With no REDIS_URL, a private redis-server (scripts/local_redis.py) is started
on 127.0.0.1 with a password of this run, keeping its data in build/redis/.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import redis as redis_sync

from nlu.retrain import Keys, active_model
from scripts.local_redis import LocalRedis

ROOT = Path(__file__).resolve().parent.parent
RASA_BIN = ROOT / ".venv" / "rasa" / "bin" / "rasa"
RASA_PYTHON = ROOT / ".venv" / "rasa" / "bin" / "python"
APP_PYTHON = ROOT / ".venv" / "app" / "bin" / "python"
MODEL = ROOT / "models" / "kawan-sehat.tar.gz"
DEMO_POSYANDU = ROOT / "data" / "posyandu" / "buton_utara.csv"
LOCAL_REDIS_DIR = ROOT / "build" / "redis"
MODELS_DIR = ROOT / "models" / "console"
# Where the running `make run` keeps its Redis URL for `make console-admin` (mode 600).
RUN_ENV = ROOT / "build" / "run.env"
# Rasa's tracker store: the latest session only, a bounded window of it
# (connectors/tracker_store.py), expiring 30 days after the last message.
TRACKER_STORE = "connectors.tracker_store.BoundedRedisTrackerStore"
TRACKER_EXPIRY_SECONDS = 30 * 24 * 3600
TRACKER_MAX_EVENTS = 50
QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    "RASA_TELEMETRY_ENABLED": "false",
    "PYTHONWARNINGS": "ignore",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def endpoints_yaml(
    redis_url: str, actions_port: int, prefix: str, tracker_store: str = TRACKER_STORE
) -> str:
    """Rasa endpoints: action server, and tracker and lock stores on Redis.

    `tracker_store="redis"` gives Rasa's stock store (bench-conversation compares).
    """
    url = urlparse(redis_url)
    db = (url.path or "/0").lstrip("/") or "0"
    # Rasa substitutes ${...} from its environment: no secret in the file.
    password = "\n  password: ${REDIS_PASSWORD}" if url.password else ""
    ssl = "true" if url.scheme == "rediss" else "false"
    host = url.hostname or "127.0.0.1"
    redis = f"  url: {host}\n  port: {url.port or 6379}\n  db: {db}{password}\n  use_ssl: {ssl}"
    prefix = prefix.rstrip(":")
    bounded = f"  max_events: {TRACKER_MAX_EVENTS}\n" if tracker_store == TRACKER_STORE else ""
    return (
        f"action_endpoint:\n  url: http://127.0.0.1:{actions_port}/webhook\n"
        "  headers:\n    Authorization: Bearer ${KS_ACTION_TOKEN}\n"
        f"tracker_store:\n  type: {tracker_store}\n{redis}\n  key_prefix: {prefix}\n"
        f"  record_exp: {TRACKER_EXPIRY_SECONDS}\n{bounded}"
        f"lock_store:\n  type: redis\n{redis}\n  key_prefix: {prefix}\n"
    )


def wait_http(url: str, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        with (
            contextlib.suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(url, timeout=2) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


@dataclass
class Stack:
    """The assistant's processes, started in dependency order and stopped in reverse."""

    redis_url: str | None = None
    redis_prefix: str = "ks:"
    gateway_port: int = 8080
    rasa_port: int = 5005
    actions_port: int = 5055
    log_dir: Path = ROOT / "build" / "logs"
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    local_redis_dir: Path = LOCAL_REDIS_DIR
    local_redis: LocalRedis | None = None
    # Rasa's own HTTP API (/model/parse, /conversations): off unless a benchmark asks,
    # and then behind `rasa_api_token`. The same token (RASA_API_TOKEN) guards the
    # model route of our channel, with which the console's retrain loads models.
    rasa_api: bool = False
    # The retrain worker (nlu/retrain.py) and where its models go.
    trainer: bool = True
    models_dir: Path = MODELS_DIR
    model: Path = MODEL  # what Rasa starts with: the console's active model, if newer
    rasa_api_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    tokens: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # what the processes were started with
    # A chat API key of this run (added to any KS_API_KEYS given) for tests and benchmarks.
    api_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    def rasa_arguments(self, endpoints: Path) -> list[str]:
        """`rasa run ...` for this stack (its HTTP API only for benchmarks, behind the token)."""
        # "--auth-token=<token>": a generated token may start with "-", which argparse
        # would take for an option (Rasa then exits with 2).
        api = ["--enable-api", f"--auth-token={self.rasa_api_token}"] if self.rasa_api else []
        return [
            "run",
            *api,
            "-i",
            "127.0.0.1",
            "-p",
            str(self.rasa_port),
            "--model",
            str(self.model),
            "--credentials",
            str(ROOT / "credentials.yml"),
            "--endpoints",
            str(endpoints),
        ]

    def start(self, rasa_timeout: float = 300.0) -> None:
        if not MODEL.exists():
            raise FileNotFoundError(f"{MODEL} is missing: run `make train` first")
        if not self.redis_url:
            self.local_redis = LocalRedis(self.local_redis_dir)
            self.redis_url = self.local_redis.start()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            **QUIET_ENV,
            "PYTHONPATH": str(ROOT),
            "REDIS_URL": self.redis_url,
            "KS_REDIS_PREFIX": self.redis_prefix,
            **self.extra_env,
        }
        password = urlparse(self.redis_url).password
        if password:
            env["REDIS_PASSWORD"] = password  # for ${REDIS_PASSWORD} in the endpoints file
        # Shared secrets: gateway -> our channel in Rasa, Rasa -> action server.
        for name in ("RASA_TOKEN", "KS_ACTION_TOKEN"):
            env[name] = env.get(name) or secrets.token_urlsafe(24)
            self.tokens[name] = env[name]
        self.env = env
        env["KS_API_KEYS"] = ",".join(k for k in (env.get("KS_API_KEYS"), self.api_key) if k)
        self._publish_content(env)
        self.model = self._model_in_use()
        endpoints = self.log_dir / f"endpoints-{self.rasa_port}.yml"
        endpoints.write_text(endpoints_yaml(self.redis_url, self.actions_port, self.redis_prefix))
        self.spawn(
            "actions",
            [
                str(APP_PYTHON),
                "-m",
                "actions.server",
                "--host",
                "127.0.0.1",
                "-p",
                str(self.actions_port),
            ],
            env,
        )
        rasa_api_env = {
            "RASA_API_URL": f"http://127.0.0.1:{self.rasa_port}",
            "RASA_API_TOKEN": self.rasa_api_token,
        }
        rasa_command = [str(RASA_BIN), *self.rasa_arguments(endpoints)]
        self.spawn("rasa", rasa_command, {**env, **rasa_api_env})
        if self.trainer:
            self.spawn(
                "trainer",
                [
                    str(RASA_PYTHON),
                    "-m",
                    "nlu.retrain",
                    "worker",
                    "--base-model",
                    str(MODEL),
                    "--models-dir",
                    str(self.models_dir),
                ],
                {**env, **rasa_api_env},
            )
        self.spawn(
            "gateway",
            [str(APP_PYTHON), "-m", "bot"],
            {
                **env,
                **rasa_api_env,
                "PORT": str(self.gateway_port),
                "RASA_URL": f"http://127.0.0.1:{self.rasa_port}",
            },
        )
        local = "http://127.0.0.1"
        try:
            wait_http(f"{local}:{self.actions_port}/health", 60, self.processes["actions"])
            wait_http(f"{local}:{self.gateway_port}/healthz", 60, self.processes["gateway"])
            # Rasa's root route answers once the server runs (the model loads before it).
            wait_http(f"{local}:{self.rasa_port}/", rasa_timeout, self.processes["rasa"])
            wait_http(f"{local}:{self.gateway_port}/readyz", 30, self.processes["gateway"])
        except BaseException:
            # A process that did not come up: stop the others (callers only stop a
            # started stack; a failed benchmark start once left an action server running).
            self.stop()
            raise

    @property
    def chat_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}/"

    def _publish_content(self, env: dict[str, str]) -> None:
        """Publish the FAQ content and load the shipped Posyandu directory (idempotent)."""
        for command in (
            ["-m", "actions.content", "publish", str(ROOT / "data" / "faq")],
            ["-m", "actions.posyandu.importer", "--quiet", str(DEMO_POSYANDU)],
        ):
            subprocess.run([str(APP_PYTHON), *command], env=env, cwd=ROOT, check=True)

    def _model_in_use(self) -> Path:
        """The model the console last accepted or rolled back to, if it is newer than
        the shipped one (nlu/retrain.py decides for both `make run` and containers)."""
        assert self.redis_url is not None
        client = redis_sync.Redis.from_url(self.redis_url)
        try:
            return active_model(client, Keys(self.redis_prefix), MODEL)
        finally:
            client.close()

    def spawn(self, name: str, command: list[str], env: dict[str, str]) -> None:
        log = open(self.log_dir / f"{name}-{self.gateway_port}.log", "wb")  # noqa: SIM115
        self.processes[name] = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()
        if self.local_redis is not None:
            self.local_redis.stop()


CHANNEL_VARIABLES = {
    "Telegram": ("TELEGRAM_BOT_TOKEN",),
    "WhatsApp": (
        "WHATSAPP_ACCESS_TOKEN",
        "WHATSAPP_PHONE_NUMBER_ID",
        "WHATSAPP_APP_SECRET",
        "WHATSAPP_VERIFY_TOKEN",
    ),
}


def channel_lines(environ: Mapping[str, str]) -> list[str]:
    """What `make run` says about each channel (the gateway's own log says it too)."""
    lines = []
    for name, variables in CHANNEL_VARIABLES.items():
        missing = [v for v in variables if not environ.get(v)]
        if not missing:
            lines.append(f"{name}: on.")
        elif len(missing) == len(variables):
            lines.append(f"{name}: off ({', '.join(variables)} not set); the web chat still runs.")
        else:
            lines.append(f"{name}: incomplete, {', '.join(missing)} not set.")
    if environ.get("TELEGRAM_BOT_TOKEN"):
        mode = environ.get("TELEGRAM_MODE", "webhook")
        if mode == "webhook" and not environ.get("KS_PUBLIC_URL"):
            lines.append(
                "Telegram webhook mode needs KS_PUBLIC_URL (the public HTTPS address of this"
                " gateway); for local use set TELEGRAM_MODE=polling."
            )
    return lines


def local_secret_key(path: Path = ROOT / "build" / "secret-key") -> str:
    """The deployment secret for `make run` without KS_SECRET_KEY: made once, kept in build/
    (pseudonymous Redis keys, such as a saved Posyandu, must survive a restart)."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    value = secrets.token_urlsafe(32)
    path.write_text(value, encoding="utf-8")
    return value


def write_run_env(stack: Stack, path: Path = RUN_ENV) -> None:
    """Where this run's Redis is, for `make console-admin` (which must reach the private
    redis-server and its password of this run); readable by this user only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(
        f"REDIS_URL={stack.redis_url}\nKS_REDIS_PREFIX={stack.redis_prefix}\n", encoding="utf-8"
    )


def main() -> int:
    redis_url = os.environ.get("REDIS_URL")
    os.environ.setdefault("KS_SECRET_KEY", local_secret_key())
    stack = Stack(
        redis_url=redis_url,
        redis_prefix=os.environ.get("KS_REDIS_PREFIX", "ks:"),
        gateway_port=int(os.environ.get("PORT", "8080")),
        rasa_port=int(os.environ.get("RASA_PORT", "5005")),
        actions_port=int(os.environ.get("ACTIONS_PORT", "5055")),
    )
    if not redis_url:
        print(
            f"REDIS_URL is not set: starting a private redis-server on 127.0.0.1"
            f" (data in {LOCAL_REDIS_DIR}; delete it to forget everything)."
        )
    for line in channel_lines(os.environ):
        print(line)
    print("Starting the action server, Rasa (the model takes a minute to load) and the gateway...")
    try:
        stack.start()
    except (RuntimeError, TimeoutError) as error:
        print(f"Start-up failed: {error}. Logs: {stack.log_dir}", file=sys.stderr)
        stack.stop()
        return 1
    print(
        f"Kawan Sehat is ready. Web chat: {stack.chat_url}  (logs in {stack.log_dir}; Ctrl+C stops)"
    )
    write_run_env(stack)
    print(f"Console: {stack.chat_url}console/  (first admin: make console-admin NAME=<name>)")
    stopping = asyncio.Event()
    loop = asyncio.new_event_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)

    async def watch() -> None:
        while not stopping.is_set():
            dead = [n for n, p in stack.processes.items() if p.poll() is not None]
            if dead:
                print(
                    f"{', '.join(dead)} stopped unexpectedly; see {stack.log_dir}", file=sys.stderr
                )
                return
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=1.0)

    try:
        loop.run_until_complete(watch())
    finally:
        RUN_ENV.unlink(missing_ok=True)
        stack.stop()
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
