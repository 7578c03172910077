"""The PWS-style dashboard: questions by topic x week x region, Posyandu reminders,
emergencies per week and the top unanswered groups, with CSV downloads.

Counts only, from `bot.console.stats` (cells under 10 people read "<10"). Admins and
promoters see everything, a Puskesmas officer their kecamatan, a cadre only the rows of
their own Posyandu in the Posyandu table.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from aiohttp import web

from bot.console import stats
from bot.console.auth import Account, Role
from bot.console.charts import bar_chart, week_chart
from bot.console.pages import current_account, error_page, render, requires
from bot.console.sheets_views import SHEETS
from bot.console.state import CONSOLE

__all__ = ["question_scope", "routes"]

routes = web.RouteTableDef()

WEEKS = (4, 8, 12, 26, 52)
DEFAULT_WEEKS = 8
SHOWN_ROWS = 400
TOP_UNANSWERED = 5
TOPIC_NAMES = {stats.EMERGENCY_TOPIC: "Tanda bahaya (darurat)", "lainnya": "Lainnya"}


def question_scope(account: Account) -> tuple[str, ...] | None:
    """Region code prefixes of the counts an account sees (() all); None for an account
    that sees no regional counts (a cadre: only their Posyandu's rows)."""
    if account.disabled or account.role is Role.KADER:
        return None
    if account.role is Role.PROMOTER:
        return ()
    if account.role is Role.PUSKESMAS and not account.regions:
        return None
    return account.regions


@dataclass
class Choice:
    level: str
    weeks: int

    @classmethod
    def of(cls, request: web.Request) -> Choice:
        level = request.query.get("tingkat", "kabupaten")
        raw = request.query.get("minggu", "")
        weeks = (
            int(raw) if re.fullmatch(r"[0-9]{1,3}", raw) and int(raw) in WEEKS else DEFAULT_WEEKS
        )
        return cls(level if level in stats.LEVELS else "kabupaten", weeks)

    def query(self) -> str:
        return f"tingkat={self.level}&minggu={self.weeks}"


@dataclass
class Data:
    choice: Choice
    level: str = ""
    rows: list[stats.Row] = field(default_factory=list)
    posyandu: list[stats.PosyanduRow] = field(default_factory=list)
    unanswered: list[stats.UnansweredGroup] = field(default_factory=list)
    week_list: list[str] = field(default_factory=list)


async def _data(request: web.Request, account: Account) -> Data:
    console = request.config_dict[CONSOLE]
    choice = Choice.of(request)
    data = Data(choice, week_list=stats.last_weeks(choice.weeks))
    scope = question_scope(account)
    if scope is None:
        ids = account.regions if account.role is Role.KADER and not account.disabled else ()
        data.posyandu = await stats.posyandu_table(
            console.redis, console.prefix, weeks=choice.weeks, posyandu_ids=ids
        )
        return data
    regions = await request.config_dict[SHEETS].regions()
    data.level = stats.effective_level(choice.level, scope)
    data.rows = await stats.dashboard(
        console.redis,
        console.prefix,
        weeks=data.week_list,
        level=choice.level,
        scope=scope,
        regions=regions,
    )
    data.posyandu = await stats.posyandu_table(
        console.redis, console.prefix, weeks=data.week_list, scope=scope
    )
    # Only groups of at least MIN_PEOPLE questions, without their kecamatan: the dashboard
    # is for aggregates (a group's example is one person's text; the inbox is where
    # promoters read single questions).
    groups = await stats.unanswered_groups(console.redis, console.prefix, scope=scope)
    data.unanswered = [g for g in groups if g.count >= stats.MIN_PEOPLE][:TOP_UNANSWERED]
    return data


async def _topic_names(request: web.Request) -> dict[str, str]:
    entries = await request.config_dict[CONSOLE].store.all()
    return {**{topic: entry.title for topic, entry in entries.items()}, **TOPIC_NAMES}


def _charts(data: Data, names: dict[str, str]) -> list[str]:
    topics = stats.topic_totals(data.rows)
    weeks = stats.week_totals(data.rows, weeks=data.week_list)
    emergencies = stats.week_totals(data.rows, topic=stats.EMERGENCY_TOPIC, weeks=data.week_list)
    return [
        bar_chart(
            [(names.get(t.label, t.label), _shown(t)) for t in topics],
            title="Pertanyaan per topik",
            desc="Jumlah sel yang ditampilkan; sel di bawah 10 orang tidak dijumlahkan.",
            ident="topik",
        ),
        week_chart(
            [(stats.week_label(t.label), _shown(t)) for t in weeks],
            title="Pertanyaan per minggu",
            ident="minggu",
        ),
        week_chart(
            [(stats.week_label(t.label), _shown(t)) for t in emergencies],
            title="Tanda bahaya per minggu",
            unit="pesan darurat",
            ident="darurat",
            colour=2,
        ),
    ]


def _shown(total: stats.Total) -> int | None:
    """A total for a chart: "<10" (None) when every cell behind it is suppressed."""
    return None if total.questions == 0 and total.hidden_cells else total.questions


@routes.get("/dashboard")
@requires()
async def dashboard(request: web.Request) -> web.Response:
    account = current_account(request)
    try:
        data = await _data(request, account)
    except stats.StatsError as problem:
        return error_page(request, 400, str(problem))
    names = await _topic_names(request)
    return render(
        request,
        "dashboard.html",
        data=data,
        regional=question_scope(account) is not None,
        charts=_charts(data, names) if data.level else [],
        names=names,
        levels=stats.LEVEL_NAMES,
        week_choices=WEEKS,
        shown_rows=SHOWN_ROWS,
        week_label=stats.week_label,
        hidden=sum(1 for row in data.rows if not row.shown),
    )


@routes.get("/dashboard/{table:pertanyaan|posyandu}.csv")
@requires()
async def download(request: web.Request) -> web.Response:
    account = current_account(request)
    table = request.match_info["table"]
    if table == "pertanyaan" and question_scope(account) is None:
        return error_page(request, 403)
    try:
        data = await _data(request, account)
    except stats.StatsError as problem:
        return error_page(request, 400, str(problem))
    body = stats.to_csv(data.rows) if table == "pertanyaan" else stats.posyandu_csv(data.posyandu)
    name = f"kawan-sehat-{table}-{dt.date.today().isoformat()}.csv"
    return web.Response(
        body=body,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
