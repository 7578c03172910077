"""The model page: "latih ulang" requests for the trainer, their progress and results as
the trainer writes them, rollback through a fake Rasa HTTP API, and held-out hygiene."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from actions.content import ContentStore, load_entries
from actions.inbox import UnansweredInbox
from bench.overlap import HELDOUT_FILES, read_examples
from bot.app import create_app
from bot.console.inbox import ExampleStore, InboxError, export_examples
from bot.console.retrain import GATE
from bot.console.state import Console
from tests.console.conftest import FAQ, ConsoleSite, console_settings
from tests.console.test_inbox_views import user

API_TOKEN = "rasa-api-token-for-tests"
INTENTS = {"dbd.gejala", "imunisasi.jadwal"}
EXAMPLES = [
    ("dbd.gejala", "anak sy panas 3 hari ada bintik merah apa itu dbd"),
    ("imunisasi.jadwal", "jadwal suntik campak buat bayi umur brp bulan"),
]
# A held-out utterance (bench/heldout.yml) and a near copy of it.
HELDOUT = read_examples(HELDOUT_FILES[0])[0]
NEAR_HELDOUT = HELDOUT.text.replace("slama", "selama") + "?"
BASE = "/app/models/kawan-sehat.tar.gz"
ACTIVE = {
    "path": "/app/models/console/console-b.tar.gz",
    "name": "console-b.tar.gz",
    "job": "b" * 32,
    "loaded_at": "2026-03-02T10:00:00+00:00",
    "macro_f1": "0.914",
    "emergency_recall": "1.0",
    "by": "budi",
}
HISTORY = [
    {**ACTIVE, "path": "/app/models/console/console-a.tar.gz", "name": "console-a.tar.gz"},
    {
        "path": BASE,
        "name": "kawan-sehat.tar.gz (bawaan)",
        "job": "",
        "loaded_at": "",
        "macro_f1": "0.903",
        "emergency_recall": "1.0",
        "by": "",
    },
]
REFRESH = '<meta http-equiv="refresh" content="5;url=/console/model">'  # the notice goes


@dataclass
class FakeRasaApi:
    """Rasa's `PUT /model`: records each call and answers `status` (204 when loaded)."""

    status: int = 204
    calls: list[tuple[str | None, Any]] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_put("/webhooks/gateway/model", self.load)
        return app

    async def load(self, request: web.Request) -> web.Response:
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        self.calls.append((bearer, await request.json()))
        return web.Response(status=self.status)


@dataclass
class ModelSite:
    site: ConsoleSite
    rasa: FakeRasaApi

    def key(self, name: str) -> str:
        return f"{self.site.prefix}console:{name}"

    async def hash(self, name: str) -> dict[str, str]:
        raw = await self.site.redis.hgetall(self.key(name))
        return {k.decode(): v.decode() for k, v in raw.items()}

    async def history(self) -> list[dict[str, str]]:
        return [
            json.loads(r) for r in await self.site.redis.lrange(self.key("model:history"), 0, -1)
        ]

    async def seed_models(self) -> None:
        await self.site.redis.hset(self.key("model:active"), mapping=ACTIVE)
        await self.site.redis.rpush(self.key("model:history"), *map(json.dumps, HISTORY))


@pytest.fixture
async def models(redis: Redis, redis_prefix: str) -> AsyncIterator[ModelSite]:
    """The console with RASA_API_TOKEN set and RASA_URL at a fake Rasa HTTP API."""
    rasa = FakeRasaApi()
    rasa_server = TestServer(rasa.app())
    await rasa_server.start_server()
    await ContentStore(redis, redis_prefix).publish(load_entries(FAQ))
    settings = console_settings(
        redis_prefix, RASA_URL=str(rasa_server.make_url("")), RASA_API_TOKEN=API_TOKEN
    )
    server = TestServer(create_app(settings))
    await server.start_server()
    site = ConsoleSite(Console.open(redis, redis_prefix), redis, redis_prefix, server, [])
    yield ModelSite(site, rasa)
    for browser in site.browsers:
        await browser.session.close()
    await server.close()
    await rasa_server.close()


async def add_examples(site: ConsoleSite) -> None:
    store = ExampleStore(site.redis, site.prefix, site.console.audit)
    for intent, text in EXAMPLES:
        await store.add("ani", intent, text, INTENTS)


def version_of(page_text: str, index: int) -> str:
    found = re.search(
        rf'action="/console/model/kembalikan/{index}".*?name="versi" value="([0-9a-f]+)"',
        page_text,
        re.S,
    )
    assert found, f"the page offers history entry {index} for rollback"
    return found.group(1)


async def test_a_promoter_requests_a_retrain_and_the_trainer_gets_the_job(
    models: ModelSite,
) -> None:
    site = models.site
    await add_examples(site)
    promoter = await user(site, "ani", "promoter")
    page = await promoter.get("/console/model")
    assert page.status == 200
    assert "Model bawaan" in page.text and GATE in page.text
    assert "<strong>2</strong> contoh latihan" in page.text and 'href="/console/inbox' in page.text
    assert 'action="/console/model/latih"' in page.text and REFRESH not in page.text

    page = await promoter.post("/console/model/latih", {})
    assert page.status == 200 and page.url.endswith("/console/model?selesai=latih")
    assert "Permintaan latih ulang masuk antrean." in page.text
    assert "Dalam antrean" in page.text and "Menunggu giliran" in page.text
    assert '<progress value="0" max="100">' in page.text and REFRESH in page.text
    assert 'action="/console/model/latih"' not in page.text  # no second button meanwhile

    job_id = (await site.redis.get(models.key("retrain:current"))).decode()
    assert re.fullmatch(r"[0-9a-f]{32}", job_id)
    assert await site.redis.lrange(models.key("retrain:queue"), 0, -1) == [job_id.encode()]
    assert await site.redis.lrange(models.key("retrain:jobs"), 0, -1) == [job_id.encode()]
    job = await models.hash(f"retrain:job:{job_id}")
    assert job.pop("requested_at").endswith("+00:00")
    assert job == {
        "id": job_id,
        "actor": "ani",
        "status": "antri",
        "progress": "0",
        "stage": "Menunggu giliran",
        "examples": json.dumps(sorted(map(list, EXAMPLES)), ensure_ascii=False),
        "dropped": "[]",
    }
    assert await site.redis.ttl(models.key(f"retrain:job:{job_id}")) == -1
    [entry] = [e for e in await site.console.audit.latest(20) if e.action == "model.latih_ulang"]
    assert (entry.actor, entry.target, entry.after) == ("ani", job_id, {"contoh": 2, "dibuang": 0})

    again = await promoter.post("/console/model/latih", {})
    assert again.status == 409 and "Pelatihan lain sedang berjalan." in again.text
    assert await site.redis.llen(models.key("retrain:queue")) == 1


async def test_nothing_to_train_is_refused(models: ModelSite) -> None:
    admin = await user(models.site, "dinkes", "admin")
    page = await admin.get("/console/model")
    assert "Belum ada contoh latihan baru dari kotak masuk." in page.text
    assert re.search(r"<button class=\"primary\" disabled>Latih ulang</button>", page.text)
    refused = await admin.post("/console/model/latih", {})
    assert refused.status == 409
    assert '<p class="error" role="alert">Belum ada contoh latihan baru' in refused.text
    assert await models.site.redis.exists(models.key("retrain:current")) == 0


async def test_only_admins_and_promoters_see_the_model_page(models: ModelSite) -> None:
    site = models.site
    await add_examples(site)
    await models.seed_models()
    for name, role, regions in (
        ("kader1", "kader", ("PY74100110081",)),
        ("sari", "puskesmas", ("74.10.01",)),
    ):
        browser = await user(site, name, role, regions)
        assert "/console/model" not in (await browser.get("/console/")).text
        page = await browser.get("/console/model")
        assert page.status == 403 and "Halaman ini bukan untuk peran Anda." in page.text
        assert (await browser.post("/console/model/latih", {})).status == 403
        browser.page = page
        assert (await browser.post("/console/model/kembalikan/0", {"versi": "x"})).status == 403
    assert await site.redis.exists(models.key("retrain:current")) == 0
    assert models.rasa.calls == []
    for name, role in (("dinkes", "admin"), ("ani", "promoter")):
        home = await (await user(site, name, role)).get("/console/")
        assert 'href="/console/model"' in home.text and "Model &amp; latih ulang" in home.text


async def test_a_post_without_the_csrf_token_is_refused(models: ModelSite) -> None:
    site = models.site
    await add_examples(site)
    await models.seed_models()
    promoter = await user(site, "ani", "promoter")
    await promoter.get("/console/model")
    assert (await promoter.post("/console/model/latih", {}, csrf=None)).status == 403
    assert (await promoter.post("/console/model/kembalikan/0", {}, csrf="wrong")).status == 403
    assert await site.redis.exists(models.key("retrain:current")) == 0
    assert models.rasa.calls == [] and (await models.hash("model:active")) == ACTIVE


async def test_the_page_follows_what_the_trainer_writes(models: ModelSite) -> None:
    site = models.site
    await add_examples(site)
    promoter = await user(site, "ani", "promoter")
    await promoter.get("/console/model")
    await promoter.post("/console/model/latih", {})
    job_id = (await site.redis.get(models.key("retrain:current"))).decode()
    job_key = models.key(f"retrain:job:{job_id}")

    # the trainer takes the job and trains
    await site.redis.hset(
        job_key,
        mapping={
            "status": "melatih",
            "progress": "40",
            "stage": "Melatih model: putaran 8 dari 20",
            "started_at": "2026-03-03T08:00:00+00:00",
        },
    )
    page = await promoter.get("/console/model")
    assert "Sedang melatih" in page.text and "Melatih model: putaran 8 dari 20" in page.text
    assert '<progress value="40" max="100">' in page.text and REFRESH in page.text

    # the candidate is refused by the gate, the job ends
    current = {"model": "kawan-sehat.tar.gz", "macro_f1": 0.912, "emergency_recall": 1.0}
    candidate = {"model": "console-x.tar.gz", "macro_f1": 0.89, "emergency_recall": 0.95}
    reason = (
        "Macro-F1 pada data uji turun dari 0,912 ke 0,890 (paling banyak boleh turun 0,01)."
        " 2 dari 40 kalimat tanda bahaya di data uji tidak lagi dikenali sebagai darurat."
        " Model lama tetap dipakai."
    )
    await site.redis.hset(
        job_key,
        mapping={
            "status": "ditolak",
            "progress": "100",
            "finished_at": "2026-03-03T08:09:00+00:00",
            "current": json.dumps({**current, "emergency_total": 40, "n": 1152}),
            "candidate": json.dumps({**candidate, "emergency_total": 40, "n": 1152}),
            "reason": reason,
            "dropped": json.dumps(
                [{"intent": "lama", "text": "kalimat lama", "reason": "maksud tidak ada"}]
            ),
            "used": "1",
        },
    )
    await site.redis.delete(models.key("retrain:current"))
    page = await promoter.get("/console/model")
    assert REFRESH not in page.text and 'action="/console/model/latih"' in page.text
    assert "Ditolak" in page.text and reason in page.text
    assert "macro-F1 0,912 → 0,890 <strong>(-0,022)</strong>" in page.text
    assert "tanda bahaya dikenali: 40 → 38 dari 40" in page.text
    assert "1 dipakai" in page.text and "1 tidak dipakai" in page.text
    assert "“kalimat lama” (lama): maksud tidak ada" in page.text

    # a second request is accepted by the gate and put in use
    await promoter.post("/console/model/latih", {})
    second = (await site.redis.get(models.key("retrain:current"))).decode()
    await site.redis.hset(
        models.key(f"retrain:job:{second}"),
        mapping={
            "status": "diterima",
            "progress": "100",
            "current": json.dumps({**current, "emergency_total": 40, "n": 1152}),
            "candidate": json.dumps(
                {**current, "macro_f1": 0.918, "emergency_total": 40, "n": 1152}
            ),
        },
    )
    await site.redis.delete(models.key("retrain:current"))
    await site.redis.hset(models.key("model:active"), mapping={**ACTIVE, "job": second})
    page = await promoter.get("/console/model")
    assert "Diterima, sudah dipakai" in page.text and "(+0,006)" in page.text
    assert "<strong>console-b.tar.gz</strong>" in page.text
    assert "macro-F1 0,914 · tanda bahaya dikenali 100%" in page.text
    assert page.text.index("(+0,006)") < page.text.index("(-0,022)")  # newest first


async def test_rollback_loads_the_model_and_swaps_active_and_history(models: ModelSite) -> None:
    site = models.site
    await models.seed_models()
    promoter = await user(site, "ani", "promoter")
    page = await promoter.get("/console/model")
    assert "console-a.tar.gz" in page.text and "kawan-sehat.tar.gz (bawaan)" in page.text
    assert page.text.count(">Kembalikan</button>") == 2

    page = await promoter.post("/console/model/kembalikan/1", {"versi": version_of(page.text, 1)})
    assert page.status == 200 and "Model yang dipilih sudah dipakai lagi" in page.text
    assert models.rasa.calls == [(API_TOKEN, {"model_file": BASE})]
    active = await models.hash("model:active")
    assert active.pop("loaded_at").endswith("+00:00")
    assert active == {k: v for k, v in HISTORY[1].items() if k != "loaded_at"} | {"by": "ani"}
    assert await models.history() == [ACTIVE, HISTORY[0]]
    assert "<strong>kawan-sehat.tar.gz (bawaan)</strong>" in page.text
    [entry] = [e for e in await site.console.audit.latest(20) if e.action == "model.dikembalikan"]
    assert entry.actor == "ani" and entry.before == ACTIVE
    assert entry.after["path"] == BASE and entry.after["by"] == "ani"


async def test_a_failed_load_changes_nothing(models: ModelSite) -> None:
    site = models.site
    await models.seed_models()
    promoter = await user(site, "ani", "promoter")
    for status, message in (
        (500, "Asisten (Rasa) gagal memuat model itu (HTTP 500). Model tidak diganti."),
        (401, "RASA_API_TOKEN tidak cocok"),
    ):
        models.rasa.status = status
        page = await promoter.get("/console/model")
        page = await promoter.post(
            "/console/model/kembalikan/0", {"versi": version_of(page.text, 0)}
        )
        assert page.status == 502 and message in page.text
        assert "<strong>console-b.tar.gz</strong>" in page.text  # still in use
        assert await models.hash("model:active") == ACTIVE
        assert await models.history() == HISTORY
    assert len(models.rasa.calls) == 2
    assert not [e for e in await site.console.audit.latest(20) if e.action == "model.dikembalikan"]
    assert await site.redis.exists(models.key("model:lock")) == 0  # released


async def test_rollback_waits_for_a_running_job_and_a_changed_list(models: ModelSite) -> None:
    site = models.site
    await models.seed_models()
    await add_examples(site)
    promoter = await user(site, "ani", "promoter")
    page = await promoter.get("/console/model")
    first = version_of(page.text, 0)

    await promoter.post("/console/model/latih", {})
    page = await promoter.get("/console/model")
    assert '<button class="small" disabled>Kembalikan</button>' in page.text
    refused = await promoter.post("/console/model/kembalikan/0", {"versi": first})
    assert refused.status == 409 and "Pelatihan sedang berjalan." in refused.text
    await site.redis.delete(models.key("retrain:current"))

    # the trainer put a new model in use since the page was read: index 0 is another one
    await site.redis.lpush(models.key("model:history"), json.dumps(ACTIVE))
    refused = await promoter.post("/console/model/kembalikan/0", {"versi": first})
    assert refused.status == 409 and "Daftar model sudah berubah." in refused.text

    await site.redis.set(models.key("model:lock"), "someone", ex=60)
    refused = await promoter.post("/console/model/kembalikan/1", {"versi": first})
    assert refused.status == 409 and "Model sedang diganti." in refused.text
    refused = await promoter.post("/console/model/latih", {})
    assert refused.status == 409 and "Model sedang diganti." in refused.text
    assert models.rasa.calls == [] and await models.hash("model:active") == ACTIVE


async def test_without_rasa_api_token_rollback_is_unavailable(site: ConsoleSite) -> None:
    await site.redis.rpush(f"{site.prefix}console:model:history", *map(json.dumps, HISTORY))
    admin = await user(site, "dinkes", "admin")
    page = await admin.get("/console/model")
    assert "RASA_API_TOKEN belum diatur" in page.text and ">Kembalikan</button>" not in page.text
    refused = await admin.post("/console/model/kembalikan/0", {"versi": "0" * 16})
    assert refused.status == 409 and "RASA_API_TOKEN belum diatur" in refused.text
    assert len(await site.redis.lrange(f"{site.prefix}console:model:history", 0, -1)) == 2


async def test_held_out_sentences_are_never_training_examples(models: ModelSite) -> None:
    site = models.site
    store = ExampleStore(site.redis, site.prefix, site.console.audit)
    with pytest.raises(InboxError, match="terlalu mirip dengan kalimat di data uji"):
        await store.add("ani", HELDOUT.intent, NEAR_HELDOUT, {HELDOUT.intent})

    # in the inbox, a promoter sees why
    await UnansweredInbox(site.redis, site.prefix).add(NEAR_HELDOUT, "web", [], region="74.10.01")
    promoter = await user(site, "ani", "promoter")
    page = await promoter.get("/console/inbox")
    lead = re.search(r'action="/console/inbox/([0-9a-f]+)/contoh"', page.text)
    assert lead
    page = await promoter.post(
        f"/console/inbox/{lead.group(1)}/contoh", {"intent": "dbd.gejala", "text": NEAR_HELDOUT}
    )
    assert page.status == 409
    assert "terlalu mirip dengan kalimat di data uji" in page.text and "jujur" in page.text
    assert await export_examples(site.redis, site.prefix) == []

    # an example kept before the held-out set had it is left out at enqueue
    await add_examples(site)
    old = {"intent": HELDOUT.intent, "text": HELDOUT.text, "author": "ani", "at": "2025-01-01"}
    await site.redis.hset(models.key("examples"), "old", json.dumps(old))
    await promoter.get("/console/model")
    page = await promoter.post("/console/model/latih", {})
    job_id = (await site.redis.get(models.key("retrain:current"))).decode()
    job = await models.hash(f"retrain:job:{job_id}")
    assert json.loads(job["examples"]) == sorted(map(list, EXAMPLES))
    assert json.loads(job["dropped"]) == [
        {"intent": HELDOUT.intent, "text": HELDOUT.text, "reason": "mirip data uji"}
    ]
    assert "2 dipakai" in page.text and "1 tidak dipakai" in page.text
    assert f"“{HELDOUT.text}” ({HELDOUT.intent}): mirip data uji" in page.text
    [entry] = [e for e in await site.console.audit.latest(20) if e.action == "model.latih_ulang"]
    assert entry.after == {"contoh": 2, "dibuang": 1}


def test_held_out_check_uses_the_sets_read_once() -> None:
    from bot.console import inbox

    inbox.like_heldout("apa saja")
    before = inbox._heldout_keys.cache_info()
    assert inbox.like_heldout(NEAR_HELDOUT) and not inbox.like_heldout(EXAMPLES[0][1])
    after = inbox._heldout_keys.cache_info()
    assert after.misses == before.misses and after.currsize == 1
