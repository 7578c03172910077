"""The unanswered inbox page: questions Kawan Sehat could not answer, grouped by similarity.

Promoters and admins turn a group into a training example of an existing topic, mark it
as needing new content, or dismiss it; each step is audited and hides the group. A
Puskesmas officer reads the questions of their kecamatan.
"""

from __future__ import annotations

from aiohttp import web

from bot.console.auth import Account, Permission, Role
from bot.console.dashboard_views import question_scope
from bot.console.inbox import (
    MARK_LABELS,
    MAX_EXAMPLE_CHARS,
    ExampleStore,
    InboxError,
    InboxMarks,
    Mark,
)
from bot.console.pages import current_account, error_page, post_form, redirect, render, requires
from bot.console.sheets_views import SHEETS
from bot.console.state import CONSOLE
from bot.keys import DOMAIN_INTENTS

__all__ = ["routes"]

routes = web.RouteTableDef()

NOTICES = {
    "contoh": "Ditambahkan sebagai contoh latihan. Ikut dipakai saat model dilatih ulang.",
    "konten": "Ditandai perlu konten baru.",
    "abaikan": "Diabaikan.",
}


def _scope(account: Account) -> tuple[str, ...]:
    """The inbox is for content editors and Puskesmas officers (their kecamatan)."""
    scope = question_scope(account)
    if scope is None or not (account.may(Permission.CONTENT) or account.role is Role.PUSKESMAS):
        raise web.HTTPForbidden()
    return scope


def _services(request: web.Request) -> tuple[InboxMarks, ExampleStore]:
    console = request.config_dict[CONSOLE]
    return (
        InboxMarks(console.redis, console.prefix, console.audit),
        ExampleStore(console.redis, console.prefix, console.audit),
    )


async def _intents(request: web.Request) -> tuple[dict[str, str], list[str]]:
    """FAQ topics (id -> title) and the domain's other intents, for the example select."""
    intents = request.config_dict[DOMAIN_INTENTS]
    entries = await request.config_dict[CONSOLE].store.all()
    topics = {
        t: entries[t].title for t in sorted(entries, key=lambda t: entries[t].title) if t in intents
    }
    return topics, sorted(set(intents) - set(topics))


@routes.get("/inbox")
@requires()
async def inbox(request: web.Request) -> web.Response:
    account = current_account(request)
    scope = _scope(account)
    handled = request.query.get("tampil") == "ditangani"
    marks, _ = _services(request)
    groups = await marks.groups(scope=scope, handled=handled)
    topics, others = await _intents(request)
    regions = await request.config_dict[SHEETS].regions()
    places = {g.group.region: regions.get(g.group.region) for g in groups if g.group.region}
    return render(
        request,
        "inbox.html",
        groups=groups,
        handled=handled,
        may_act=account.may(Permission.CONTENT),
        topics=topics,
        others=others,
        places={code: region.name for code, region in places.items() if region},
        labels=MARK_LABELS,
        max_chars=MAX_EXAMPLE_CHARS,
        done=NOTICES.get(request.query.get("selesai", "")),
    )


@routes.post("/inbox/{lead}/{step:contoh|konten|abaikan}")
@requires(Permission.CONTENT)
async def act(request: web.Request) -> web.Response:
    account = current_account(request)
    scope = _scope(account)
    marks, examples = _services(request)
    step = Mark(request.match_info["step"])
    form = await post_form(request)
    intent = None
    try:
        if step is Mark.EXAMPLE:
            intent = form.get("intent", "")
            intents = request.config_dict[DOMAIN_INTENTS]
            await examples.add(account.username, intent, form.get("text", ""), intents)
        await marks.mark(
            account.username, request.match_info["lead"], step, scope=scope, intent=intent
        )
    except InboxError as problem:
        return error_page(request, 409, str(problem))
    redirect(f"/console/inbox?selesai={step.value}")
