"""A fake Rasa server speaking our `gateway` input channel: echoes the text back.

Some words ask for what real answers carry: "tombol" (2 buttons), "daftar" (5),
"banyak" (12 long titles), "kode" (a payload over 64 bytes), "panjang" (about
5,000 characters). `mode` "down" answers 500; `delay` makes it think.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.server import LocalServer

__all__ = ["RASA_TOKEN", "EchoRasa", "refused"]

# The secret the gateway shares with our channel in Rasa (RASA_TOKEN).
RASA_TOKEN = "rasa-secret-for-tests"


def refused(request: web.Request) -> web.Response | None:
    """What our channel in Rasa answers a caller without the shared secret."""
    given = request.headers.get("Authorization")
    if not given:
        return web.json_response({"error": "authorization required"}, status=401)
    if given != f"Bearer {RASA_TOKEN}":
        return web.json_response({"error": "forbidden"}, status=403)
    return None


@dataclass
class EchoRasa:
    """Answers like our Rasa channel: echoes the text; some words ask for buttons or length."""

    mode: str = "ok"  # ok | down | slow
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0
    _server: LocalServer = field(default_factory=LocalServer)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/webhooks/gateway/webhook", self.webhook)
        app.router.add_get("/webhooks/gateway/", self.status)
        return app

    def texts_from(self, sender: str) -> list[str]:
        return [r["message"] for r in self.requests if r["sender"] == sender]

    async def webhook(self, request: web.Request) -> web.Response:
        if (refusal := refused(request)) is not None:
            return refusal
        body = await request.json()
        if self.mode == "down":
            return web.json_response({"error": "message handling failed"}, status=500)
        self.requests.append(body)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        text: str = body["message"]
        message: dict[str, Any] = {"recipient_id": body["sender"], "text": f"Jawaban: {text}"}
        if "tombol" in text:
            message["buttons"] = [
                {"title": "Ya", "payload": "/affirm"},
                {"title": "Tidak", "payload": "/deny"},
            ]
        if "daftar" in text:
            message["buttons"] = [
                {"title": f"Desa Nomor {i}", "payload": f'/choose{{"n": {i}}}'} for i in range(5)
            ]
        if "banyak" in text:
            message["buttons"] = [
                {"title": f"Kelurahan dengan nama panjang {i}", "payload": f"/p{i}"}
                for i in range(12)
            ]
        if "kode" in text:
            payload = '/choose_village{"village_code": "74.12.01.2001", "x": "' + "a" * 60 + '"}'
            message["buttons"] = [{"title": "Lambale", "payload": payload}]
        if "panjang" in text:
            sentence = "Ini kalimat yang cukup panjang tentang kesehatan ibu dan anak. "
            message["text"] = sentence * 80  # about 5,000 characters
        return web.json_response(
            {"messages": [message], "intent": "x", "confidence": 0.9, "faq_id": None}
        )

    async def status(self, request: web.Request) -> web.Response:
        return refused(request) or web.json_response({"status": "ok", "model_loaded": True})

    async def start(self, port: int = 0) -> str:
        """The base URL to give the gateway (RASA_URL)."""
        return await self._server.start(self.app(), port)

    async def close(self) -> None:
        await self._server.close()
