"""Spreadsheet pages: export the FAQ content and the Posyandu directory as XLSX or CSV,
upload a sheet, read its per-row report, then apply it ("terapkan").

Nothing changes before "terapkan". Checking and applying run as background tasks the
app owns, their progress kept in Redis (`console:sheetjob:<id>`, with the file in
`...:data`), so a large Posyandu file shows a progress bar (the page reloads itself).
A job belongs to the session that uploaded it and is gone an hour later. FAQ rows become
drafts of the four-eyes workflow, never published here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web
from redis.asyncio import Redis

from actions.content import FaqEntry
from actions.posyandu.directory import Directory
from actions.posyandu.records import PosyanduRecord
from actions.posyandu.regions import Regions
from actions.store import as_text
from bot.console import sheets
from bot.console.auth import Account, Permission, Role
from bot.console.pages import UPLOAD, current_account, render, requires, see_other, streams_upload
from bot.console.pages import visitor as visitor_of
from bot.console.sheets import FAQ_LIMITS, POSYANDU_LIMITS, Kind, SheetError, Status
from bot.console.state import CONSOLE, Console

__all__ = ["SHEETS", "Sheets", "routes", "sheets_ctx"]

logger = logging.getLogger(__name__)

routes = web.RouteTableDef()

JOB_SECONDS = 3600
QUICK_SECONDS = 3.0  # a small file's report is shown at once, without a progress page
SHOWN_ROWS = 300  # rows listed (errors and changes; the totals count all)
STALE_SECONDS = 120  # a running job whose progress stopped this long ago was lost
LIMITS = {"faq": FAQ_LIMITS, "posyandu": POSYANDU_LIMITS}
TITLES = {"faq": "Konten FAQ", "posyandu": "Direktori Posyandu"}
MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
}
# Job states, as the page says them.
CHECKING, CHECKED, APPLYING, DONE, FAILED = (
    "memeriksa",
    "diperiksa",
    "menerapkan",
    "selesai",
    "gagal",
)


@dataclass
class Sheets:
    """What the spreadsheet pages keep for the app's lifetime: their background tasks
    and the region table (loaded on first use, about a second)."""

    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    loaded: Regions | None = None

    async def regions(self) -> Regions:
        async with self.lock:
            if self.loaded is None:
                self.loaded = await asyncio.to_thread(Regions)
        return self.loaded

    def start(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task


SHEETS = web.AppKey("console_sheets", Sheets)


async def sheets_ctx(app: web.Application) -> AsyncIterator[None]:
    app[SHEETS] = Sheets()
    yield
    tasks = list(app[SHEETS].tasks)
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=5)


# --- who may do what ---------------------------------------------------------------------------


def kinds_for(account: Account) -> list[Kind]:
    """The sheets an account may export and import: FAQ content for content editors, the
    Posyandu directory for admins and Puskesmas officers (their area only)."""
    kinds: list[Kind] = []
    if account.may(Permission.CONTENT):
        kinds.append("faq")
    if not account.disabled and account.role in (Role.ADMIN, Role.PUSKESMAS):
        kinds.append("posyandu")
    return kinds


def in_scope(account: Account) -> Callable[[PosyanduRecord], bool]:
    return lambda record: account.covers_posyandu(record.id, record.village_code)


def _kind(request: web.Request) -> Kind:
    kind = request.match_info["kind"]
    if kind not in kinds_for(current_account(request)):
        raise web.HTTPForbidden()
    return "faq" if kind == "faq" else "posyandu"


# --- jobs in Redis -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    id: str
    owner: str
    session: str
    kind: Kind
    filename: str
    state: str
    done: int = 0
    total: int = 0
    error: str = ""
    result: str = ""
    heartbeat: float = 0.0

    @property
    def running(self) -> bool:
        return self.state in (CHECKING, APPLYING)

    @property
    def stale(self) -> bool:
        return self.running and dt.datetime.now(dt.UTC).timestamp() - self.heartbeat > STALE_SECONDS


class Jobs:
    """Sheet jobs in Redis: the uploaded file, the state and progress, the report."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    def _key(self, job_id: str) -> str:
        return f"{self._prefix}console:sheetjob:{job_id}"

    async def create(self, owner: str, session: str, kind: Kind, filename: str, data: bytes) -> Job:
        job = Job(secrets.token_urlsafe(18), owner, session, kind, filename, CHECKING)
        latest = f"{self._prefix}console:sheetjob-of:{session}"
        previous = await self._redis.set(latest, job.id, ex=JOB_SECONDS, get=True)
        async with self._redis.pipeline(transaction=True) as pipe:
            if previous is not None:  # one upload per session: the older file goes
                pipe.delete(self._key(as_text(previous)), f"{self._key(as_text(previous))}:data")
            pipe.hset(self._key(job.id), mapping=_fields(job, heartbeat=_clock()))
            pipe.set(f"{self._key(job.id)}:data", data, ex=JOB_SECONDS)
            pipe.expire(self._key(job.id), JOB_SECONDS)
            await pipe.execute()
        return job

    async def get(self, job_id: str, session: str) -> Job | None:
        """The job, if it exists and belongs to this session."""
        if not 10 <= len(job_id) <= 40:
            return None
        raw = await self._redis.hgetall(self._key(job_id))
        values = {as_text(k): as_text(v) for k, v in raw.items() if as_text(k) != "report"}
        if not values or values.get("session") != session:
            return None
        return Job(
            id=job_id,
            owner=values["owner"],
            session=values["session"],
            kind="faq" if values["kind"] == "faq" else "posyandu",
            filename=values["filename"],
            state=values["state"],
            done=int(values.get("done", 0)),
            total=int(values.get("total", 0)),
            error=values.get("error", ""),
            result=values.get("result", ""),
            heartbeat=float(values.get("heartbeat", 0)),
        )

    async def data(self, job: Job) -> bytes | None:
        raw = await self._redis.get(f"{self._key(job.id)}:data")
        return raw.encode() if isinstance(raw, str) else raw

    async def report(self, job: Job) -> sheets.SheetReport | None:
        raw = await self._redis.hget(self._key(job.id), "report")
        if raw is None:
            return None
        value = json.loads(raw)
        rows = [sheets.RowResult(n, i, Status(s), list(e)) for n, i, s, e in value["rows"]]
        return sheets.SheetReport(kind=job.kind, digest=value["digest"], rows=rows)

    async def update(self, job: Job, **changes: Any) -> None:
        fields: dict[Any, str] = {k: str(v) for k, v in changes.items()}
        fields["heartbeat"] = str(_clock())
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._key(job.id), mapping=fields)
            pipe.expire(self._key(job.id), JOB_SECONDS)
            await pipe.execute()

    async def checked(self, job: Job, report: sheets.SheetReport) -> None:
        rows = [[r.row, r.id, r.status.value, r.errors] for r in report.rows]
        encoded = json.dumps({"digest": report.digest, "rows": rows}, ensure_ascii=False)
        await self.update(job, state=CHECKED, report=encoded, done=len(rows), total=len(rows))

    async def claim(self, job: Job) -> bool:
        """Start applying, once: False when the job is not (or no longer) checked."""
        claimed = await self._redis.set(f"{self._key(job.id)}:claim", "1", nx=True, ex=JOB_SECONDS)
        if claimed:
            await self.update(job, state=APPLYING, done=0, total=0)
        return bool(claimed)

    async def finish(self, job: Job, **changes: Any) -> None:
        await self.update(job, **changes)
        await self._redis.delete(f"{self._key(job.id)}:data")


def _fields(job: Job, **extra: Any) -> dict[Any, str]:
    values = {k: str(v) for k, v in dataclasses.asdict(job).items() if k != "id"}
    return {**values, **{k: str(v) for k, v in extra.items()}}


def _clock() -> float:
    return dt.datetime.now(dt.UTC).timestamp()


def _jobs(request: web.Request) -> Jobs:
    console = request.config_dict[CONSOLE]
    return Jobs(console.redis, console.prefix)


def _session_digest(request: web.Request) -> str:
    session = visitor_of(request).session
    if session is None:
        raise web.HTTPForbidden()
    return hashlib.sha256(session.token.encode()).hexdigest()[:32]


# --- the work itself ---------------------------------------------------------------------------


async def _current_faq(console: Console) -> dict[str, FaqEntry]:
    """The entries as the editor shows them: published, with drafts on top."""
    entries = await console.store.all()
    drafts = await console.content.drafts(sorted(entries))
    return {**entries, **{topic: draft.entry for topic, draft in drafts.items()}}


def _known_topics_only(report: sheets.FaqReport, published: Iterable[str]) -> None:
    """A new topic needs a new intent and training: a sheet cannot make one."""
    known = set(published)
    for result in report.rows:
        if result.status is Status.NEW and result.id not in known:
            result.status = Status.ERROR
            result.errors.append(
                f"id: topik {result.id} belum ada; topik baru ditambahkan oleh pengembang"
            )
            report.entries.pop(result.row, None)


async def _faq_report(console: Console, filename: str, data: bytes) -> sheets.FaqReport:
    upload = await asyncio.to_thread(sheets.read_faq_upload, filename, data)
    current = await _current_faq(console)
    report = await asyncio.to_thread(sheets.validate_faq, upload, current)
    _known_topics_only(report, await console.store.topic_ids())
    return report


async def _check(console: Console, state: Sheets, jobs: Jobs, job: Job, data: bytes) -> None:

    async def progress(done: int, total: int) -> None:
        await jobs.update(job, done=done, total=total)

    try:
        report: sheets.SheetReport
        if job.kind == "faq":
            report = await _faq_report(console, job.filename, data)
        else:
            account = await console.accounts.get(job.owner)
            if account is None or "posyandu" not in kinds_for(account):
                raise SheetError("Akun Anda tidak lagi boleh mengubah direktori Posyandu.")
            upload = await asyncio.to_thread(sheets.read_posyandu_upload, job.filename, data)
            await jobs.update(job, total=upload.estimated_rows)
            report = await sheets.validate_posyandu(
                upload,
                Directory(console.redis, console.prefix),
                await state.regions(),
                in_scope(account),
                progress,
            )
        await jobs.checked(job, report)
    except SheetError as problem:
        await jobs.finish(job, state=FAILED, error=str(problem))
    except Exception:
        logger.exception("Console: checking a %s sheet failed", job.kind)
        await jobs.finish(job, state=FAILED, error="Maaf, file ini tidak bisa diperiksa.")


async def _apply(console: Console, state: Sheets, jobs: Jobs, job: Job, data: bytes) -> None:
    checked = await jobs.report(job)
    try:
        if checked is None:
            raise SheetError("Laporan pemeriksaan sudah tidak ada. Unggah ulang file-nya.")
        if job.kind == "faq":
            result = await _apply_faq(console, jobs, job, data, checked)
        else:
            result = await _apply_posyandu(console, state, jobs, job, data, checked)
        await jobs.finish(job, state=DONE, result=result)
    except SheetError as problem:
        await jobs.finish(job, state=FAILED, error=str(problem))
    except Exception:
        logger.exception("Console: applying a %s sheet failed", job.kind)
        await jobs.finish(job, state=FAILED, error="Maaf, file ini gagal diterapkan.")


async def _apply_faq(
    console: Console, jobs: Jobs, job: Job, data: bytes, checked: sheets.SheetReport
) -> str:
    report = await _faq_report(console, job.filename, data)
    if _statuses(report) != _statuses(checked) or report.digest != checked.digest:
        raise SheetError(
            "Konten berubah sejak file diperiksa. Unggah ulang file untuk memeriksanya lagi."
        )
    total, done = report.writable, 0
    await jobs.update(job, total=total)

    async def save_draft(entry: FaqEntry) -> None:
        nonlocal done
        await console.content.save(job.owner, entry)
        done += 1
        await jobs.update(job, done=done)

    saved = await sheets.apply_faq(report, save_draft)
    await console.audit.record(
        job.owner,
        "lembar.faq_diterapkan",
        job.filename,
        None,
        {"draf": saved, "topik": [e.id for e in report.entries.values()]},
    )
    return f"{saved} draf dibuat. Ajukan review di editor konten agar terbit."


async def _apply_posyandu(
    console: Console,
    state: Sheets,
    jobs: Jobs,
    job: Job,
    data: bytes,
    checked: sheets.SheetReport,
) -> str:
    account = await console.accounts.get(job.owner)
    if account is None or "posyandu" not in kinds_for(account):
        raise SheetError("Akun Anda tidak lagi boleh mengubah direktori Posyandu.")
    upload = await asyncio.to_thread(sheets.read_posyandu_upload, job.filename, data)

    async def progress(done: int, total: int) -> None:
        await jobs.update(job, done=done, total=total)

    async def written(changes: list[tuple[PosyanduRecord | None, PosyanduRecord]]) -> None:
        """One audit entry per chunk (up to 1,000 records), before and after each record:
        a 100,000-row file must not push the rest of the audit log out of its cap."""
        await console.audit.record(
            job.owner,
            "lembar.posyandu_baris",
            f"{job.filename}: {changes[0][1].id} … {changes[-1][1].id}",
            {new.id: old.model_dump(mode="json") if old else None for old, new in changes},
            {new.id: new.model_dump(mode="json") for _, new in changes},
        )

    counts = await sheets.apply_posyandu(
        upload,
        checked,
        Directory(console.redis, console.prefix),
        await state.regions(),
        in_scope(account),
        progress,
        written,
    )
    await console.audit.record(
        job.owner,
        "lembar.posyandu_diterapkan",
        job.filename,
        None,
        {"ditambah": counts.added, "diubah": counts.updated, "tetap": counts.unchanged},
    )
    return f"{counts.added} Posyandu ditambah, {counts.updated} diubah."


def _statuses(report: sheets.SheetReport) -> dict[int, Status]:
    return {r.row: r.status for r in report.rows}


# --- pages -------------------------------------------------------------------------------------


def _page(
    request: web.Request, status: int = 200, errors: dict[str, str] | None = None
) -> web.Response:
    account = current_account(request)
    kinds = kinds_for(account)
    if not kinds:
        raise web.HTTPForbidden()
    return render(
        request,
        "sheets.html",
        status=status,
        kinds=kinds,
        titles=TITLES,
        errors=errors or {},
        limits={kind: LIMITS[kind] for kind in kinds},
        area=account.regions if account.role is Role.PUSKESMAS else (),
    )


@routes.get("/sheets")
@requires()
async def page(request: web.Request) -> web.Response:
    return _page(request)


@routes.get("/sheets/{kind:faq|posyandu}.{format:xlsx|csv}")
@requires()
async def export(request: web.Request) -> web.Response:
    kind, fmt = _kind(request), request.match_info["format"]
    console = request.config_dict[CONSOLE]
    if kind == "faq":
        entries = list((await _current_faq(console)).values())
        writer = sheets.export_faq_xlsx if fmt == "xlsx" else sheets.export_faq_csv
        body = await asyncio.to_thread(writer, entries)
    else:
        scope = in_scope(current_account(request))
        records = await sheets.directory_records(Directory(console.redis, console.prefix))
        regions = await request.config_dict[SHEETS].regions()
        write = sheets.export_posyandu_xlsx if fmt == "xlsx" else sheets.export_posyandu_csv
        body = await asyncio.to_thread(write, (r for r in records if scope(r)), regions)
    name = f"kawan-sehat-{kind}-{dt.date.today().isoformat()}.{fmt}"
    return web.Response(
        body=body,
        content_type=MEDIA[fmt],
        charset="utf-8" if fmt == "csv" else None,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@routes.post("/sheets/{kind:faq|posyandu}/upload")
@streams_upload
@requires()
async def upload(request: web.Request) -> web.StreamResponse:
    kind = _kind(request)
    try:
        filename, data = await _read_file(request, LIMITS[kind].bytes)
    except SheetError as problem:
        return _page(request, 400, {kind: str(problem)})
    jobs = _jobs(request)
    job = await jobs.create(
        current_account(request).username, _session_digest(request), kind, filename, data
    )
    state = request.config_dict[SHEETS]
    task = state.start(_check(request.config_dict[CONSOLE], state, jobs, job, data))
    await asyncio.wait({task}, timeout=QUICK_SECONDS)
    return see_other(f"/console/sheets/job/{job.id}")


async def _read_file(request: web.Request, limit: int) -> tuple[str, bytes]:
    """The form's file (the part named "berkas"), at most `limit` bytes; SheetError else."""
    reader = request.get(UPLOAD) or await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name != "berkas":
            continue
        data = bytearray()
        while chunk := await part.read_chunk(2**16):
            data += chunk
            if len(data) > limit:
                raise SheetError(
                    f"File terlalu besar (paling besar {limit // 2**20} MB). "
                    "Bagi menjadi beberapa file."
                )
        if not part.filename or not data:
            raise SheetError("Pilih file XLSX atau CSV dulu.")
        return part.filename[-120:], bytes(data)
    raise SheetError("Pilih file XLSX atau CSV dulu.")


async def _job(request: web.Request) -> Job:
    job = await _jobs(request).get(request.match_info["job"], _session_digest(request))
    if job is None:
        raise web.HTTPNotFound()
    return job


@routes.get("/sheets/job/{job}")
@requires()
async def report_page(request: web.Request) -> web.Response:
    job = await _job(request)
    report = await _jobs(request).report(job) if job.state == CHECKED else None
    listed = []
    if report is not None:
        order = {Status.ERROR: 0, Status.CHANGED: 1, Status.NEW: 2}
        noted = [r for r in report.rows if r.status in order]
        listed = sorted(noted, key=lambda r: (order[r.status], r.row))[:SHOWN_ROWS]
    return render(
        request,
        "sheet_report.html",
        job=job,
        title=TITLES[job.kind],
        report=report,
        listed=listed,
        Status=Status,
        refresh=job.running and not job.stale,
    )


@routes.post("/sheets/job/{job}/apply")
@requires()
async def apply(request: web.Request) -> web.StreamResponse:
    job = await _job(request)
    jobs = _jobs(request)
    data = await jobs.data(job)
    if job.state != CHECKED or data is None or not await jobs.claim(job):
        return see_other(f"/console/sheets/job/{job.id}")
    state = request.config_dict[SHEETS]
    task = state.start(_apply(request.config_dict[CONSOLE], state, jobs, job, data))
    await asyncio.wait({task}, timeout=QUICK_SECONDS)
    return see_other(f"/console/sheets/job/{job.id}")
