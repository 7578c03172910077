"""Whatever arrives at the chat API, the answer is a JSON reply or a 4xx, never a 500."""

from __future__ import annotations

import json
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import create_app
from tests.gateway.conftest import INTEGRATOR, FakeRasa, settings_for

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
chat_like = st.fixed_dictionaries(
    {},
    optional={
        "user_id": json_values | st.text(max_size=140),
        "text": json_values | st.text(max_size=300),
        "location": json_values | st.fixed_dictionaries({"lat": json_values, "lon": json_values}),
    },
)
bodies = (
    st.binary(max_size=300)
    | json_values.map(lambda v: json.dumps(v).encode())
    | chat_like.map(lambda v: json.dumps(v).encode())
)

ALLOWED = {200, 400, 413}


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(body=bodies)
async def test_chat_api_never_fails_on_bad_input(
    fake_rasa: tuple[FakeRasa, str], redis_prefix: str, body: bytes
) -> None:
    _, url = fake_rasa
    async with TestClient(TestServer(create_app(settings_for(url, redis_prefix)))) as client:
        response = await client.post(
            "/api/v1/chat",
            data=body,
            headers={"Content-Type": "application/json", **INTEGRATOR},
        )
        assert response.status in ALLOWED
        payload: Any = await response.json()
        assert ("replies" in payload) if response.status == 200 else ("error" in payload)
