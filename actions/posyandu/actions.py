"""Posyandu actions: lookup by village name (with disambiguation), by location,
and the user's own Posyandu."""

from __future__ import annotations

import abc
import datetime as dt
import logging
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import Action, Tracker
from rasa_sdk.types import DomainDict
from redis.exceptions import RedisError

from actions.posyandu.directory import Directory, MyPosyandu
from actions.posyandu.lookup import PlaceQuery, VillageFinder
from actions.posyandu.records import PosyanduRecord
from actions.posyandu.regions import Region, Regions, time_zone_of
from actions.posyandu.schedule import format_session, next_session
from actions.store import redis_prefix, shared_redis

logger = logging.getLogger(__name__)

SLOT_VILLAGE = "village_code"
SLOT_PLACE_NAME = "place_name"
SLOT_LISTED = "listed_posyandu"
MAX_CHOICES = 10
NEAREST_RADIUS_KM = 25.0
Clock = Callable[[], dt.datetime]


@cache
def messages() -> dict[str, str]:
    path = Path(__file__).with_name("messages.yml")
    loaded: dict[str, str] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


@cache
def default_finder() -> VillageFinder:
    return VillageFinder(Regions())


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class PosyanduAction(Action, abc.ABC):
    """Shared wiring: the directory, the region finder, the clock (all replaceable in tests)."""

    def __init__(
        self,
        directory: Directory | None = None,
        finder: VillageFinder | None = None,
        mine: MyPosyandu | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._directory = directory
        self._finder = finder
        self._mine = mine
        self._clock = clock

    @property
    def directory(self) -> Directory:
        return self._directory or Directory(shared_redis(), redis_prefix())

    @property
    def finder(self) -> VillageFinder:
        return self._finder or default_finder()

    @property
    def mine(self) -> MyPosyandu:
        return self._mine or MyPosyandu(shared_redis(), redis_prefix())

    @abc.abstractmethod
    def name(self) -> str: ...

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        try:
            return await self.answer(dispatcher, tracker)
        except (RedisError, ValidationError):
            logger.exception("Posyandu directory unavailable")
            dispatcher.utter_message(text=messages()["unavailable"])
            return []

    @abc.abstractmethod
    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[dict[str, Any]]: ...

    async def when(self, record: PosyanduRecord) -> tuple[str, str]:
        """Next session in words and a note about a move, in the village's time zone."""
        zone = time_zone_of(record.village_code)
        session = next_session(
            record.rule,
            self._clock(),
            zone,
            await self.directory.changes_for(record.id),
            await self.directory.holidays(),
        )
        if session is None:
            return messages()["no_session"], ""
        note = messages()["moved_note"].format(note=session.note) if session.note else ""
        return format_session(session), note

    def village_label(self, code: str) -> str:
        village = self.finder.regions.get(code)
        return self.finder.regions.path(village) if village else code


class ActionPosyanduSchedule(PosyanduAction):
    def name(self) -> str:
        return "action_posyandu_schedule"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        code = next(tracker.get_latest_entity_values("village_code"), None)
        regions = self.finder.regions
        if code and regions.get(str(code)):
            return await self._list(dispatcher, regions.by_code[str(code)])
        query = PlaceQuery(
            text=text,
            village=next(tracker.get_latest_entity_values("desa"), "") or "",
            district=next(tracker.get_latest_entity_values("kecamatan"), "") or "",
            regency=next(tracker.get_latest_entity_values("kabupaten"), "") or "",
        )
        villages = self.finder.find(query)
        pending = tracker.get_slot(SLOT_PLACE_NAME)
        areas = self.finder.areas_in_text(text) if not villages else []
        if not villages and pending and areas:
            # The answer to "which kecamatan/kabupaten?" for the name asked before.
            villages = [
                v
                for v in self.finder.find(PlaceQuery(text=str(pending), village=str(pending)))
                if any(v.code.startswith(a.code + ".") for a in areas)
            ]
        if not villages and areas:
            return self._ask_village_in(dispatcher, areas[0])
        if not villages:
            remembered = tracker.get_slot(SLOT_VILLAGE)
            if remembered and regions.get(str(remembered)) and not query.village:
                return await self._list(dispatcher, regions.by_code[str(remembered)])
            name = query.village or _guess_name(text)
            key = "not_found" if name else "ask_place"
            dispatcher.utter_message(text=messages()[key].format(name=name))
            return []
        if len(villages) == 1:
            return await self._list(dispatcher, villages[0])
        return self._ask_which(dispatcher, villages)

    def _ask_which(
        self, dispatcher: CollectingDispatcher, villages: list[Region]
    ) -> list[dict[str, Any]]:
        name = villages[0].name
        regions = self.finder.regions
        if len(villages) > MAX_CHOICES:
            district = regions.get(villages[0].code[:8])
            dispatcher.utter_message(
                text=messages()["too_many"].format(
                    count=len(villages), name=name, example=district.name if district else ""
                )
            )
        else:
            buttons = []
            for village in sorted(villages, key=lambda v: v.code):
                district, regency = regions.get(village.code[:8]), regions.get(village.code[:5])
                title = (
                    f"Kec. {district.name if district else '?'}, {regency.name if regency else '?'}"
                )
                payload = f'/ask_posyandu_schedule{{"village_code": "{village.code}"}}'
                buttons.append({"title": title, "payload": payload})
            dispatcher.utter_message(
                text=messages()["which_village"].format(count=len(villages), name=name),
                buttons=buttons,
            )
        return [SlotSet(SLOT_PLACE_NAME, name)]

    def _ask_village_in(
        self, dispatcher: CollectingDispatcher, area: Region
    ) -> list[dict[str, Any]]:
        villages = sorted(self.finder.regions.villages_of(area.code), key=lambda v: v.name)
        label = f"Kec. {area.name}" if area.level == "district" else area.name
        if not villages or len(villages) > MAX_CHOICES * 3:
            example = villages[0].name if villages else "Lambale"
            dispatcher.utter_message(
                text=messages()["area_too_big"].format(
                    area=label, count=len(villages), example=example
                )
            )
            return []
        buttons = [
            {"title": v.name, "payload": f'/ask_posyandu_schedule{{"village_code": "{v.code}"}}'}
            for v in villages
        ]
        dispatcher.utter_message(
            text=messages()["area_villages"].format(area=label), buttons=buttons
        )
        return []

    async def _list(
        self, dispatcher: CollectingDispatcher, village: Region
    ) -> list[dict[str, Any]]:
        records = await self.directory.in_village(village.code)
        label = self.finder.regions.path(village)
        events: list[dict[str, Any]] = [
            SlotSet(SLOT_VILLAGE, village.code),
            SlotSet(SLOT_PLACE_NAME, None),
        ]
        if not records:
            dispatcher.utter_message(text=messages()["none_in_village"].format(village=label))
            return [*events, SlotSet(SLOT_LISTED, [])]
        lines = [messages()["list_header"].format(village=label)]
        for number, record in enumerate(records, start=1):
            when, note = await self.when(record)
            cadre = (
                messages()["cadre"].format(cadre=record.cadre_contact)
                if record.cadre_contact
                else ""
            )
            lines.append(
                messages()["entry"].format(
                    number=number,
                    name=record.name,
                    when=when,
                    note=note,
                    address=record.address or "-",
                    cadre=cadre,
                )
            )
        lines.append(messages()["save_hint"])
        buttons = _save_buttons(records)
        dispatcher.utter_message(text="\n".join(lines), buttons=buttons)
        return [*events, SlotSet(SLOT_LISTED, [r.id for r in records])]


class ActionSetMyPosyandu(PosyanduAction):
    def name(self) -> str:
        return "action_set_my_posyandu"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[dict[str, Any]]:
        chosen = next(tracker.get_latest_entity_values("posyandu_id"), None)
        listed = [str(i) for i in tracker.get_slot(SLOT_LISTED) or []]
        if chosen is None and len(listed) == 1:
            chosen = listed[0]
        if chosen is None and len(listed) > 1:
            records = [r for r in [await self.directory.get(i) for i in listed] if r]
            buttons = _save_buttons(records)
            dispatcher.utter_message(text=messages()["which_to_save"], buttons=buttons)
            return []
        record = await self.directory.get(str(chosen)) if chosen else None
        if record is None:
            dispatcher.utter_message(text=messages()["nothing_to_save"])
            return []
        await self.mine.remember(tracker.sender_id, record.id)
        dispatcher.utter_message(
            text=messages()["saved"].format(
                name=record.name, village=self.village_label(record.village_code)
            )
        )
        return []


class ActionMyPosyanduSchedule(PosyanduAction):
    def name(self) -> str:
        return "action_my_posyandu_schedule"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[dict[str, Any]]:
        posyandu_id = await self.mine.get(tracker.sender_id)
        record = await self.directory.get(posyandu_id) if posyandu_id else None
        if record is None:
            dispatcher.utter_message(text=messages()["no_mine"])
            return []
        when, note = await self.when(record)
        dispatcher.utter_message(
            text=messages()["mine"].format(
                name=record.name,
                village=self.village_label(record.village_code),
                when=when,
                note=note,
                address=record.address or "-",
            )
        )
        return []


class ActionNearestPosyandu(PosyanduAction):
    def name(self) -> str:
        return "action_nearest_posyandu"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[dict[str, Any]]:
        try:
            lat = float(next(tracker.get_latest_entity_values("lat")))
            lon = float(next(tracker.get_latest_entity_values("lon")))
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ValueError
        except (StopIteration, TypeError, ValueError):
            dispatcher.utter_message(text=messages()["bad_location"])
            return []
        found = await self.directory.nearest(lat, lon, count=3, radius_km=NEAREST_RADIUS_KM)
        if not found:
            dispatcher.utter_message(
                text=messages()["nearest_none"].format(radius=int(NEAREST_RADIUS_KM))
            )
            return []
        lines = [messages()["nearest_header"]]
        for number, nearby in enumerate(found, start=1):
            when, note = await self.when(nearby.record)
            village = self.finder.regions.get(nearby.record.village_code)
            lines.append(
                messages()["nearest_entry"].format(
                    number=number,
                    name=nearby.record.name,
                    village=village.name if village else nearby.record.village_code,
                    km=f"{nearby.km:.1f}".replace(".", ","),
                    when=when,
                    note=note,
                    address=nearby.record.address or "-",
                )
            )
        buttons = _save_buttons([n.record for n in found])
        dispatcher.utter_message(text="\n".join(lines), buttons=buttons)
        return [SlotSet(SLOT_LISTED, [n.record.id for n in found])]


def _save_buttons(records: list[PosyanduRecord]) -> list[dict[str, str]]:
    """One "Simpan <name>" button per Posyandu, saving it as the user's own; with a single
    Posyandu, also "Ingatkan saya" (reminders of its sessions, after consent)."""
    buttons = [
        {
            "title": messages()["save_button"].format(short=_short(record.name)),
            "payload": f'/set_my_posyandu{{"posyandu_id": "{record.id}"}}',
        }
        for record in records
    ]
    if len(records) == 1:
        buttons.append(
            {
                "title": messages()["remind_button"],
                "payload": f'/subscribe_reminder{{"posyandu_id": "{records[0].id}"}}',
            }
        )
    return buttons


def _short(name: str) -> str:
    return name.removeprefix("Posyandu ").strip()


def _guess_name(text: str) -> str:
    """The words after "desa"/"kelurahan" etc., for a "not found" reply."""
    words = text.split()
    for index, word in enumerate(words):
        if word.lower().strip(".") in ("desa", "kelurahan", "kel", "kampung"):
            return " ".join(words[index + 1 : index + 3]).strip("?!.,")
    return ""
