"""Content editor pages: FAQ topics by ILP cluster, the editor with its channel preview,
review and publish, history with a diff, and rollback."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from actions.content import MAX_ANSWER_CHARS, FaqEntry
from bot.console.auth import Permission, parse_count
from bot.console.clusters import CLUSTERS, cluster_of
from bot.console.content import WorkflowError
from bot.console.diff import diff_entries
from bot.console.entryform import ISSUERS, MAX_RELATED, SOURCE_ROWS, EntryForm, form_values
from bot.console.entryform import parse_entry as parse_entry_form
from bot.console.pages import current_account, error_page, post_form, redirect, render, requires
from bot.console.preview import preview
from bot.console.state import CONSOLE
from bot.keys import MESSAGES

__all__ = ["routes"]

routes = web.RouteTableDef()


@routes.get("/content")
@requires(Permission.CONTENT)
async def topics(request: web.Request) -> web.Response:
    console = request.config_dict[CONSOLE]
    entries = await console.store.all()
    drafts = await console.content.drafts(sorted(entries))
    grouped: dict[str, list[FaqEntry]] = {cluster: [] for cluster in CLUSTERS}
    for topic in sorted(entries):
        grouped.setdefault(cluster_of(topic), []).append(entries[topic])
    return render(request, "content_list.html", grouped=grouped, drafts=drafts)


async def _published(request: web.Request) -> FaqEntry:
    entry = await request.config_dict[CONSOLE].store.get(request.match_info["topic"])
    if entry is None:
        raise web.HTTPNotFound()
    return entry


async def _editor(
    request: web.Request, form: EntryForm | None = None, status: int = 200
) -> web.Response:
    console = request.config_dict[CONSOLE]
    published = await _published(request)
    draft = await console.content.draft(published.id)
    shown = draft.entry if draft else published
    entries = await console.store.all()
    channels = await preview(shown, console.redis, console.prefix, request.config_dict[MESSAGES])
    return render(
        request,
        "editor.html",
        status=status,
        topic=published.id,
        cluster=cluster_of(published.id),
        published=published,
        draft=draft,
        values=form.values if form else form_values(shown),
        errors=form.errors if form else {},
        changes=diff_entries(published, draft.entry) if draft else [],
        channels=channels,
        me=current_account(request),
        topics={t: entries[t].title for t in sorted(entries) if t != published.id},
        issuers=ISSUERS,
        source_rows=SOURCE_ROWS,
        max_related=MAX_RELATED,
        max_chars=MAX_ANSWER_CHARS,
    )


@routes.get("/content/{topic}")
@requires(Permission.CONTENT)
async def editor(request: web.Request) -> web.Response:
    return await _editor(request)


@routes.post("/content/{topic}")
@requires(Permission.CONTENT)
async def save(request: web.Request) -> web.Response:
    console = request.config_dict[CONSOLE]
    published = await _published(request)
    form = parse_entry_form(
        published.id,
        await post_form(request),
        await console.store.topic_ids(),
        dt.datetime.now(dt.UTC).date(),
    )
    if form.entry is None:
        return await _editor(request, form, status=400)
    await console.content.save(current_account(request).username, form.entry)
    redirect(f"/console/content/{published.id}?pesan=disimpan#pratinjau")


STEP_NOTICES = {
    "submit": "diajukan",
    "approve": "diterbitkan",
    "reject": "ditolak",
    "discard": "dibuang",
}


@routes.post("/content/{topic}/{step:submit|approve|reject|discard}")
@requires(Permission.CONTENT)
async def step(request: web.Request) -> web.Response:
    """One workflow step; a step that cannot be taken now shows why."""
    workflow = request.config_dict[CONSOLE].content
    topic = (await _published(request)).id
    actor = current_account(request).username
    name = request.match_info["step"]
    form = await post_form(request)
    # The review forms carry the marker of the draft shown; a decision without it, or
    # on a draft changed since, is refused (the reviewer reads the new text first).
    seen = form.get("versi", "")
    try:
        if name == "submit":
            await workflow.submit(actor, topic)
        elif name == "approve":
            await workflow.approve(actor, topic, seen)
        elif name == "reject":
            await workflow.reject(actor, topic, form.get("comment", ""), seen)
        else:
            await workflow.discard(actor, topic)
    except WorkflowError as problem:
        return error_page(request, 409, str(problem))
    redirect(f"/console/content/{topic}?pesan={STEP_NOTICES[name]}")


@routes.get("/content/{topic}/history")
@requires(Permission.CONTENT)
async def history(request: web.Request) -> web.Response:
    console = request.config_dict[CONSOLE]
    published = await _published(request)
    versions = await console.content.history(published.id)
    numbers = {v.number: v for v in versions}
    newest = versions[0].number if versions else 0
    to = _number(request.query.get("ke"), newest)
    since = _number(request.query.get("dari"), to - 1)
    changes = []
    if since in numbers and to in numbers:
        changes = diff_entries(numbers[since].entry, numbers[to].entry)
    return render(
        request,
        "history.html",
        topic=published.id,
        published=published,
        versions=versions,
        since=since,
        to=to,
        changes=changes,
    )


@routes.post("/content/{topic}/rollback")
@requires(Permission.CONTENT)
async def rollback(request: web.Request) -> web.Response:
    console = request.config_dict[CONSOLE]
    topic = (await _published(request)).id
    number = _number((await post_form(request)).get("version"), 0)
    try:
        await console.content.rollback(current_account(request).username, topic, number)
    except WorkflowError as problem:
        return error_page(request, 409, str(problem))
    redirect(f"/console/content/{topic}/history?pesan=dikembalikan")


def _number(raw: str | None, default: int) -> int:
    return parse_count(raw, default)
