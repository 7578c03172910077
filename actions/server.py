"""The action server: rasa-sdk's app, answering only callers that hold the shared secret.

`python -m actions.server` replaces `python -m rasa_sdk --actions actions`.
Rasa sends `Authorization: Bearer <KS_ACTION_TOKEN>` (endpoints.yml); any other
caller gets 401 (no secret) or 403 (a wrong one), so nobody can run an action
under someone else's `sender_id`. `/health` stays open for health checks.
Without KS_ACTION_TOKEN the server refuses to start.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import sys
from typing import Any

from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor
from sanic import Request, Sanic, response
from sanic.response import HTTPResponse

__all__ = ["TOKEN_VARIABLE", "build_app"]

logger = logging.getLogger(__name__)

TOKEN_VARIABLE = "KS_ACTION_TOKEN"
OPEN_PATHS = frozenset({"/health"})


def build_app(token: str, package: str = "actions") -> Sanic[Any, Any]:
    if not token:
        raise ValueError(f"{TOKEN_VARIABLE} must not be empty")
    executor = ActionExecutor()
    executor.register_package(package)
    # Only Rasa calls us, server to server: no browser origin is allowed.
    app = create_app(executor, cors_origins=[])
    expected = f"Bearer {token}".encode()

    @app.on_request
    async def require_secret(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        given = request.headers.get("authorization")
        if not given:
            return response.json({"error": "authorization required"}, status=401)
        if not hmac.compare_digest(given.encode(), expected):
            return response.json({"error": "forbidden"}, status=403)
        return None

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Kawan Sehat action server")
    parser.add_argument("--host", default=os.environ.get("SANIC_HOST", "127.0.0.1"))
    parser.add_argument("-p", "--port", type=int, default=5055)
    args = parser.parse_args(argv)
    token = os.environ.get(TOKEN_VARIABLE, "")
    if not token:
        print(f"{TOKEN_VARIABLE} is not set: the action server will not start.", file=sys.stderr)
        return 2
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"))
    app = build_app(token)
    app.run(host=args.host, port=args.port, single_process=True, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
