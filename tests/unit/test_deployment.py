"""The container deployment (compose.yml, Dockerfile) keeps its doors closed.

Docker is not available on these machines, so this reads the files an operator runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yml").read_text(encoding="utf-8"))
    return loaded


def test_only_the_gateway_is_published_and_the_rest_is_internal() -> None:
    services = compose()["services"]
    assert [name for name, s in services.items() if s.get("ports")] == ["bot"]
    for name in ("redis", "rasa", "actions", "trainer"):
        assert services[name]["networks"] == ["internal"], name
    assert compose()["networks"]["internal"]["internal"] is True


def test_redis_has_a_password_no_eviction_and_an_append_only_file() -> None:
    command = " ".join(compose()["services"]["redis"]["command"])
    assert "--requirepass" in command
    assert "--maxmemory-policy noeviction" in command
    assert "--appendonly yes" in command
    assert "${REDIS_PASSWORD:?" in (ROOT / "compose.yml").read_text(encoding="utf-8")


def test_every_shared_secret_is_required() -> None:
    services = compose()["services"]
    assert services["rasa"]["environment"]["RASA_TOKEN"].startswith("${RASA_TOKEN:?")
    assert services["bot"]["environment"]["RASA_TOKEN"].startswith("${RASA_TOKEN:?")
    for name in ("rasa", "trainer", "bot"):
        token = services[name]["environment"]["RASA_API_TOKEN"]
        assert token.startswith("${RASA_API_TOKEN:?"), name
    for name in ("rasa", "actions"):
        token = services[name]["environment"]["KS_ACTION_TOKEN"]
        assert token.startswith("${KS_ACTION_TOKEN:?"), name
    for name in ("bot", "actions"):
        assert services[name]["environment"]["KS_SECRET_KEY"].startswith("${KS_SECRET_KEY:?")


def test_rasa_api_is_off_and_actions_need_the_secret_in_the_image() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "--enable-api" not in dockerfile.split("FROM python:3.10-slim-bookworm AS rasa\n")[1]
    assert "python -m actions.server" in dockerfile
    assert "python -m rasa_sdk" not in dockerfile
    endpoints = (ROOT / "endpoints.yml").read_text(encoding="utf-8")
    assert "Authorization: Bearer ${KS_ACTION_TOKEN}" in endpoints


def test_rasa_and_the_trainer_share_the_console_models() -> None:
    services = compose()["services"]
    assert services["rasa"]["volumes"] == services["trainer"]["volumes"]
    assert services["trainer"]["volumes"] == ["models:/app/models/console"]
    assert "models" in compose()["volumes"]


def test_the_action_server_starts_and_serves_every_action_of_the_domain() -> None:
    from rasa_sdk.executor import ActionExecutor

    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    executor = ActionExecutor()
    executor.register_package("actions")  # what actions.server does at start
    served = set(executor.actions)
    assert set(domain["actions"]) <= served, set(domain["actions"]) - served
