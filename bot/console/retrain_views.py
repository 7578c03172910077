"""The model page: the model in use, "latih ulang" (retrain) with its progress, the last
jobs with their held-out figures, and rollback to a model used before.

Admins and promoters only. The training itself runs in the trainer worker
(nlu/retrain.py); this page queues jobs and reads what the trainer writes. Rollback
loads a model into Rasa (`PUT /webhooks/gateway/model`, behind RASA_API_TOKEN).
"""

from __future__ import annotations

import logging

import aiohttp
from aiohttp import web
from yarl import URL

from bot.console.auth import Permission, parse_count
from bot.console.inbox import ExampleStore
from bot.console.pages import current_account, post_form, redirect, render, requires
from bot.console.retrain import (
    BASE_MODEL,
    GATE,
    Loader,
    RetrainError,
    Retraining,
    decimal,
    percent,
)
from bot.console.state import CONSOLE
from bot.keys import HTTP_SESSION, SETTINGS

__all__ = ["routes"]

logger = logging.getLogger(__name__)

routes = web.RouteTableDef()

SHOWN_JOBS = 10
REFRESH_SECONDS = 5
RASA_LOAD_SECONDS = 120.0  # loading a model takes Rasa a few seconds, more on a busy host
NOTICES = {
    "latih": "Permintaan latih ulang masuk antrean. Kemajuannya tampil di bawah.",
    "kembali": "Model yang dipilih sudah dipakai lagi oleh Kawan Sehat.",
}
NO_ROLLBACK = (
    "Mengembalikan model belum tersedia: RASA_API_TOKEN belum diatur di gateway."
    " Minta admin sistem mengaturnya."
)


class RasaLoadFailed(RetrainError):
    """Rasa did not load the model (its answer or its silence); nothing was changed."""


def _retraining(request: web.Request) -> Retraining:
    console = request.config_dict[CONSOLE]
    examples = ExampleStore(console.redis, console.prefix, console.audit)
    return Retraining(console.redis, console.prefix, console.audit, examples)


def _rasa_loader(request: web.Request) -> Loader | None:
    """`PUT {RASA_URL}/webhooks/gateway/model` with the model's path (the model loads
    beside the one in use, connectors/chat_channel.py); None without a token."""
    settings = request.config_dict[SETTINGS]
    if settings.rasa_api_token is None:
        return None
    url = URL(str(settings.rasa_url)) / "webhooks" / "gateway" / "model"
    headers = {"Authorization": f"Bearer {settings.rasa_api_token.get_secret_value()}"}
    session = request.config_dict[HTTP_SESSION]
    timeout = aiohttp.ClientTimeout(total=RASA_LOAD_SECONDS, connect=5.0)

    async def load(path: str) -> None:
        try:
            async with session.put(
                url, json={"model_file": path}, headers=headers, timeout=timeout
            ) as response:
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            # The class name only: nothing of the request in the log.
            logger.warning("Rasa PUT /model failed: %s", type(error).__name__)
            raise RasaLoadFailed(
                "Asisten (Rasa) tidak bisa dihubungi. Model tidak diganti; coba lagi sebentar."
            ) from None
        if status == 204:
            return
        logger.warning("Rasa answered HTTP %s to PUT /model", status)
        if status in (401, 403):
            raise RasaLoadFailed(
                "Asisten (Rasa) menolak permintaan ini: RASA_API_TOKEN tidak cocok."
                " Model tidak diganti; minta admin sistem memeriksanya."
            )
        raise RasaLoadFailed(
            f"Asisten (Rasa) gagal memuat model itu (HTTP {status}). Model tidak diganti."
        )

    return load


async def _page(
    request: web.Request, problem: str | None = None, status: int = 200
) -> web.Response:
    retraining = _retraining(request)
    current = await retraining.current()
    return render(
        request,
        "model.html",
        status=status,
        active=await retraining.active(),
        base_name=BASE_MODEL.name,
        examples=await retraining.example_count(),
        current=current,
        jobs=await retraining.jobs(SHOWN_JOBS),
        history=await retraining.history(),
        may_roll_back=_rasa_loader(request) is not None,
        no_rollback=NO_ROLLBACK,
        refresh=REFRESH_SECONDS if current is not None else None,
        gate=GATE,
        problem=problem,
        done=NOTICES.get(request.query.get("selesai", "")),
        decimal=decimal,
        percent=percent,
    )


@routes.get("/model")
@requires(Permission.CONTENT)
async def model_page(request: web.Request) -> web.Response:
    return await _page(request)


@routes.post("/model/latih")
@requires(Permission.CONTENT)
async def retrain(request: web.Request) -> web.Response:
    try:
        await _retraining(request).request(current_account(request).username)
    except RetrainError as problem:
        return await _page(request, str(problem), status=409)
    redirect("/console/model?selesai=latih")


@routes.post("/model/kembalikan/{index:[0-9]{1,4}}")
@requires(Permission.CONTENT)
async def roll_back(request: web.Request) -> web.Response:
    load = _rasa_loader(request)
    if load is None:
        return await _page(request, NO_ROLLBACK, status=409)
    index = parse_count(request.match_info["index"], 0)
    version = (await post_form(request)).get("versi", "")
    actor = current_account(request).username
    try:
        await _retraining(request).roll_back(actor, index, version, load)
    except RasaLoadFailed as problem:
        return await _page(request, str(problem), status=502)
    except RetrainError as problem:
        return await _page(request, str(problem), status=409)
    redirect("/console/model?selesai=kembali")
