"""Retraining from the console ("latih ulang"): jobs for the trainer, the model in use,
and rollback to a model used before.

A promoter asks for a retrain; the console queues a job with the training examples
promoters added from the inbox (`bot.console.inbox.ExampleStore`). The trainer worker
(`nlu/retrain.py`, in the Rasa environment) trains a candidate, scores it and the model
in use on the held-out sets, and loads the candidate into Rasa only if it passes the
gate (GATE). Rollback loads a model from the history with Rasa's `PUT /model`.

Redis layout, shared with the trainer (under the deployment prefix; UTF-8 strings):
- `console:retrain:current`: id of the job queued or running; set here with SET NX (one
  job at a time), deleted by the trainer when the job ends.
- `console:retrain:queue`: list of job ids; LPUSH here, BRPOP by the trainer.
- `console:retrain:jobs`: list of job ids, newest first, the last MAX_JOBS (the hashes of
  older jobs are deleted when they fall off the list).
- `console:retrain:job:<id>`: hash. Written here: id, actor, requested_at, status
  ("antri"), progress ("0"), stage, examples (JSON [[intent, text], ...]), dropped
  (JSON [{intent, text, reason}, ...]). Written by the trainer: status (antri, melatih,
  menilai, diterima, ditolak, gagal), progress (0-100), stage, started_at, finished_at,
  current and candidate (JSON {model, macro_f1, emergency_recall, emergency_total, n}),
  reason, model, used.
- `console:model:active`: hash (absent: the shipped model): path, name, job, loaded_at,
  macro_f1, emergency_recall, by.
- `console:model:history`: list of JSON objects with the active hash's fields, newest
  first: the models in use before.
- `console:model:lock`: held (SET NX, LOCK_SECONDS) while a rollback swaps the model.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import LockError

from actions.store import as_text
from bot.console.audit import AuditLog
from bot.console.inbox import ExampleStore, like_heldout

__all__ = [
    "GATE",
    "Figures",
    "Job",
    "ModelInfo",
    "RetrainError",
    "Retraining",
    "decimal",
    "percent",
]

MAX_JOBS = 50
LOCK_SECONDS = 300  # longer than a model load (RASA_LOAD_SECONDS in the views)
HELDOUT_REASON = "mirip data uji"
# The shipped model, as the trainer names it in the history (nlu/retrain.py).
BASE_MODEL = Path(__file__).resolve().parents[2] / "models" / "kawan-sehat.tar.gz"
BASE_NAME = f"{BASE_MODEL.name} (bawaan)"
GATE = (
    "Model baru hanya dipakai bila macro-F1 pada data uji tidak turun lebih dari 0,01"
    " dan semua tanda bahaya di data uji tetap dikenali."
)
QUEUED, TRAINING, SCORING, ACCEPTED, REFUSED, FAILED = (
    "antri",
    "melatih",
    "menilai",
    "diterima",
    "ditolak",
    "gagal",
)
RUNNING = frozenset({QUEUED, TRAINING, SCORING})
STATUS_LABELS = {
    QUEUED: "Dalam antrean",
    TRAINING: "Sedang melatih",
    SCORING: "Sedang dinilai",
    ACCEPTED: "Diterima, sudah dipakai",
    REFUSED: "Ditolak",
    FAILED: "Gagal",
}
FIRST_STAGE = "Menunggu giliran"
MODEL_FIELDS = ("path", "name", "job", "loaded_at", "macro_f1", "emergency_recall", "by")

Loader = Callable[[str], Awaitable[None]]


class RetrainError(Exception):
    """A request that cannot be done now; the message is for the user (Indonesian)."""


def decimal(value: float, places: int = 3) -> str:
    """`0,912`: a score as Indonesians write it."""
    return f"{value:.{places}f}".replace(".", ",")


def percent(value: float) -> str:
    """`97,5%` (`100%` without decimals)."""
    shown = f"{value * 100:.1f}".replace(".", ",").removesuffix(",0")
    return f"{shown}%"


def _number(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _json(raw: str | None, default: Any) -> Any:
    try:
        return json.loads(raw) if raw else default
    except ValueError:
        return default


@dataclass(frozen=True)
class Figures:
    """A model's scores on the held-out sets, as the trainer writes them."""

    model: str
    macro_f1: float
    emergency_recall: float
    emergency_total: int
    n: int

    @classmethod
    def parse(cls, raw: str | None) -> Figures | None:
        value = _json(raw, None)
        if not isinstance(value, dict):
            return None
        f1, recall = _number(value.get("macro_f1")), _number(value.get("emergency_recall"))
        if f1 is None or recall is None:
            return None
        return cls(
            model=str(value.get("model") or ""),
            macro_f1=f1,
            emergency_recall=recall,
            emergency_total=int(_number(value.get("emergency_total")) or 0),
            n=int(_number(value.get("n")) or 0),
        )

    @property
    def emergencies_found(self) -> int:
        return round(self.emergency_total * self.emergency_recall)


@dataclass(frozen=True)
class Dropped:
    intent: str
    text: str
    reason: str


@dataclass(frozen=True)
class Job:
    id: str
    actor: str
    requested_at: str
    status: str
    progress: int
    stage: str
    examples: int
    dropped: list[Dropped] = field(default_factory=list)
    started_at: str = ""
    finished_at: str = ""
    current: Figures | None = None
    candidate: Figures | None = None
    reason: str = ""

    @classmethod
    def parse(cls, fields: Mapping[str, str]) -> Job:
        dropped = [
            Dropped(str(d.get("intent", "")), str(d.get("text", "")), str(d.get("reason", "")))
            for d in _json(fields.get("dropped"), [])
            if isinstance(d, dict)
        ]
        examples = _json(fields.get("examples"), [])
        used = _number(fields.get("used"))  # the trainer's count, after its own filter
        return cls(
            id=fields.get("id", ""),
            actor=fields.get("actor", ""),
            requested_at=fields.get("requested_at", ""),
            status=fields.get("status", QUEUED),
            progress=max(0, min(100, int(_number(fields.get("progress")) or 0))),
            stage=fields.get("stage", ""),
            examples=int(used) if used is not None else len(examples),
            dropped=dropped,
            started_at=fields.get("started_at", ""),
            finished_at=fields.get("finished_at", ""),
            current=Figures.parse(fields.get("current")),
            candidate=Figures.parse(fields.get("candidate")),
            reason=fields.get("reason", ""),
        )

    @property
    def running(self) -> bool:
        return self.status in RUNNING

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def f1_change(self) -> str:
        """`+0,006` / `-0,022`: the candidate's macro-F1 against the model in use."""
        if self.current is None or self.candidate is None:
            return ""
        change = self.candidate.macro_f1 - self.current.macro_f1
        return ("+" if change >= 0 else "-") + decimal(abs(change))


@dataclass(frozen=True)
class ModelInfo:
    """A model in use now or before (the active hash, a history entry)."""

    path: str
    name: str
    job: str = ""
    loaded_at: str = ""
    macro_f1: float | None = None
    emergency_recall: float | None = None
    by: str = ""
    version: str = ""  # a history entry's fingerprint: the rollback form posts it back

    @classmethod
    def parse(cls, values: Mapping[str, Any], version: str = "") -> ModelInfo:
        text = {k: "" if values.get(k) is None else str(values.get(k)) for k in MODEL_FIELDS}
        return cls(
            path=text["path"],
            name=text["name"] or Path(text["path"]).name,
            job=text["job"],
            loaded_at=text["loaded_at"],
            macro_f1=_number(values.get("macro_f1")),
            emergency_recall=_number(values.get("emergency_recall")),
            by=text["by"],
            version=version,
        )

    def fields(self) -> dict[str, str]:
        """The active hash's fields (and a history entry's), as strings."""
        numbers = {"macro_f1": self.macro_f1, "emergency_recall": self.emergency_recall}
        return {
            "path": self.path,
            "name": self.name,
            "job": self.job,
            "loaded_at": self.loaded_at,
            **{k: "" if v is None else str(v) for k, v in numbers.items()},
            "by": self.by,
        }


def _version(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class Retraining:
    def __init__(self, redis: Redis, prefix: str, audit: AuditLog, examples: ExampleStore):
        self._redis = redis
        self._prefix = prefix
        self._audit = audit
        self._examples = examples
        self.current_key = f"{prefix}console:retrain:current"
        self.queue_key = f"{prefix}console:retrain:queue"
        self.jobs_key = f"{prefix}console:retrain:jobs"
        self.active_key = f"{prefix}console:model:active"
        self.history_key = f"{prefix}console:model:history"
        self.lock_key = f"{prefix}console:model:lock"

    def job_key(self, job_id: str) -> str:
        return f"{self._prefix}console:retrain:job:{job_id}"

    # -- retrain jobs ---------------------------------------------------------------
    async def request(self, actor: str) -> Job:
        """Queue a retrain with the promoters' examples, leaving out those too close to
        the held-out sets; RetrainError when there is nothing to train or a job (or a
        rollback) is under way."""
        examples = await self._examples.export_examples()
        if not examples:
            raise RetrainError("Belum ada contoh latihan baru dari kotak masuk.")
        kept: list[tuple[str, str]] = []
        dropped: list[dict[str, str]] = []
        for intent, text in examples:  # the held-out sets may have grown since it was added
            if like_heldout(text):
                dropped.append({"intent": intent, "text": text, "reason": HELDOUT_REASON})
            else:
                kept.append((intent, text))
        if not kept:
            raise RetrainError(
                "Semua contoh latihan terlalu mirip dengan kalimat di data uji, jadi belum ada"
                " yang bisa dipakai untuk latihan."
            )
        if await self._redis.exists(self.lock_key):
            raise RetrainError("Model sedang diganti. Tunggu sebentar, lalu coba lagi.")
        job_id = uuid.uuid4().hex
        if not await self._redis.set(self.current_key, job_id, nx=True):
            raise RetrainError("Pelatihan lain sedang berjalan.")
        fields = {
            "id": job_id,
            "actor": actor,
            "requested_at": _now(),
            "status": QUEUED,
            "progress": "0",
            "stage": FIRST_STAGE,
            "examples": json.dumps(kept, ensure_ascii=False),
            "dropped": json.dumps(dropped, ensure_ascii=False),
        }
        try:
            old = await self._redis.lrange(self.jobs_key, MAX_JOBS - 1, -1)
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(self.job_key(job_id), mapping=fields)  # type: ignore[arg-type]
                pipe.lpush(self.jobs_key, job_id)
                pipe.ltrim(self.jobs_key, 0, MAX_JOBS - 1)
                for gone in old:  # fell off the list: nobody shows them again
                    pipe.delete(self.job_key(as_text(gone)))
                pipe.lpush(self.queue_key, job_id)
                await pipe.execute()
        except BaseException:
            if as_text(await self._redis.get(self.current_key) or b"") == job_id:
                await self._redis.delete(self.current_key)
            raise
        await self._audit.record(
            actor, "model.latih_ulang", job_id, None, {"contoh": len(kept), "dibuang": len(dropped)}
        )
        return Job.parse(fields)

    async def example_count(self) -> int:
        """How many training examples promoters have added."""
        return len(await self._examples.export_examples())

    async def current(self) -> Job | None:
        """The job queued or running, if any."""
        job_id = await self._redis.get(self.current_key)
        return None if job_id is None else await self.job(as_text(job_id))

    async def job(self, job_id: str) -> Job | None:
        raw = await self._redis.hgetall(self.job_key(job_id))
        return Job.parse({as_text(k): as_text(v) for k, v in raw.items()}) if raw else None

    async def jobs(self, count: int) -> list[Job]:
        """The last `count` jobs, newest first."""
        ids = [as_text(i) for i in await self._redis.lrange(self.jobs_key, 0, count - 1)]
        async with self._redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hgetall(self.job_key(job_id))
            raws = await pipe.execute()
        return [Job.parse({as_text(k): as_text(v) for k, v in raw.items()}) for raw in raws if raw]

    # -- the model in use and rollback -------------------------------------------------
    async def active(self) -> ModelInfo | None:
        """The model the console last loaded; None: the shipped model."""
        raw = await self._redis.hgetall(self.active_key)
        values = {as_text(k): as_text(v) for k, v in raw.items()}
        return ModelInfo.parse(values) if values.get("path") else None

    async def history(self) -> list[ModelInfo]:
        """The models in use before, newest first."""
        found = []
        for raw in await self._redis.lrange(self.history_key, 0, -1):
            text = as_text(raw)
            value = _json(text, None)
            if isinstance(value, dict) and value.get("path"):
                found.append(ModelInfo.parse(value, _version(text)))
        return found

    async def roll_back(self, actor: str, index: int, version: str, load: Loader) -> ModelInfo:
        """Load history entry `index` (it must still be the entry the page showed,
        `version`) with `load`, then make it the active model and put the one it
        replaces first in the history. Nothing changes when `load` fails (RetrainError)."""
        lock = self._redis.lock(self.lock_key, timeout=LOCK_SECONDS, blocking=False)
        if not await lock.acquire():
            raise RetrainError("Model sedang diganti. Tunggu sebentar, lalu muat ulang halaman.")
        try:
            return await self._roll_back(actor, index, version, load)
        finally:
            with contextlib.suppress(LockError):  # expired meanwhile: nothing to release
                await lock.release()

    async def _roll_back(self, actor: str, index: int, version: str, load: Loader) -> ModelInfo:
        if await self._redis.exists(self.current_key):
            raise RetrainError(
                "Pelatihan sedang berjalan. Kembalikan model setelah pelatihan selesai."
            )
        raw = await self._redis.lindex(self.history_key, index)
        text = as_text(raw) if raw is not None else ""
        if not text or _version(text) != version:
            raise RetrainError("Daftar model sudah berubah. Muat ulang halaman, lalu pilih lagi.")
        chosen = ModelInfo.parse(_json(text, {}))
        if not chosen.path:
            raise RetrainError("Model itu tidak bisa dikembalikan (alamat berkasnya kosong).")
        before = await self.active() or ModelInfo(str(BASE_MODEL), BASE_NAME)
        await load(chosen.path)
        after = ModelInfo(
            path=chosen.path,
            name=chosen.name,
            job=chosen.job,
            loaded_at=_now(),
            macro_f1=chosen.macro_f1,
            emergency_recall=chosen.emergency_recall,
            by=actor,
        )
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.lrem(self.history_key, 1, text)
            pipe.lpush(self.history_key, json.dumps(before.fields(), ensure_ascii=False))
            pipe.delete(self.active_key)
            pipe.hset(self.active_key, mapping=after.fields())  # type: ignore[arg-type]
            await pipe.execute()
        await self._audit.record(
            actor, "model.dikembalikan", chosen.name, before.fields(), after.fields()
        )
        return after
