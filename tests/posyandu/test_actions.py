"""Posyandu actions with rasa-sdk's CollectingDispatcher, real Redis and a fixed clock."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.posyandu.actions import (
    ActionMyPosyanduSchedule,
    ActionNearestPosyandu,
    ActionPosyanduSchedule,
    ActionSetMyPosyandu,
)
from actions.posyandu.directory import Directory, MyPosyandu
from actions.posyandu.importer import import_file
from actions.posyandu.lookup import VillageFinder
from actions.posyandu.regions import Regions

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2025, 12, 1, 2, 0, tzinfo=dt.UTC)  # Monday 1 December 2025, 10.00 WITA
LAMBALE_BUTUR = "74.10.04.2010"
LAMBALE_BOMBANA = "74.06.06.1010"


@pytest.fixture(scope="module")
def finder() -> VillageFinder:
    return VillageFinder(Regions())


@pytest.fixture
async def wiring(redis: Any, redis_prefix: str, finder: VillageFinder) -> dict[str, Any]:
    directory = Directory(redis, redis_prefix)
    csv = ROOT / "data" / "posyandu" / "buton_utara.csv"
    await import_file(directory, csv, finder.regions, progress=False)
    return {
        "directory": directory,
        "finder": finder,
        "mine": MyPosyandu(redis, redis_prefix),
        "clock": lambda: NOW,
    }


def tracker(
    text: str,
    intent: str = "ask_posyandu_schedule",
    entities: list[dict[str, Any]] | None = None,
    slots: dict[str, Any] | None = None,
    sender: str = "web:ibu-ani",
) -> Tracker:
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "entities": entities or [],
    }
    return Tracker(sender, slots or {}, latest, [], False, None, {}, "action_listen")


async def run(action: Any, track: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, track, {})
    return dispatcher.messages, events


def test_regions_know_both_lambales(finder: VillageFinder) -> None:
    assert finder.regions.by_code[LAMBALE_BUTUR].name == "Lambale"
    assert finder.regions.by_code[LAMBALE_BOMBANA].name == "Lambale"


async def test_ambiguous_name_asks_which_with_buttons(wiring: dict[str, Any]) -> None:
    messages, events = await run(
        ActionPosyanduSchedule(**wiring), tracker("posyandu di desa lambalee kapan?")
    )
    [message] = messages
    assert message["text"] == "Ada 2 desa/kelurahan bernama Lambale. Yang mana?"
    titles = [b["title"] for b in message["buttons"]]
    assert titles == [
        "Kec. Kabaena Timur, Kabupaten Bombana",
        "Kec. Kulisusu Barat, Kabupaten Buton Utara",
    ]
    assert f'"village_code": "{LAMBALE_BUTUR}"' in message["buttons"][1]["payload"]
    assert SlotSet("place_name", "Lambale") in events


async def test_choosing_a_village_lists_its_posyandu_with_next_session(
    wiring: dict[str, Any],
) -> None:
    entities = [{"entity": "village_code", "value": LAMBALE_BUTUR}]
    messages, events = await run(
        ActionPosyanduSchedule(**wiring), tracker("/ask_posyandu_schedule", entities=entities)
    )
    [message] = messages
    text = message["text"]
    assert text.startswith("Posyandu di Lambale, Kec. Kulisusu Barat, Kabupaten Buton Utara:")
    assert "Jadwal berikutnya: " in text and "2025" in text and "WITA" in text
    assert message["buttons"] and message["buttons"][0]["title"].startswith("Simpan ")
    assert SlotSet("village_code", LAMBALE_BUTUR) in events


async def test_answer_with_the_district_resolves_the_pending_name(wiring: dict[str, Any]) -> None:
    messages, events = await run(
        ActionPosyanduSchedule(**wiring),
        tracker("yg di kec kulisusu barat", slots={"place_name": "Lambale"}),
    )
    assert "Lambale, Kec. Kulisusu Barat" in messages[0]["text"]
    assert SlotSet("village_code", LAMBALE_BUTUR) in events


async def test_remembered_village_answers_a_follow_up(wiring: dict[str, Any]) -> None:
    messages, _ = await run(
        ActionPosyanduSchedule(**wiring),
        tracker("kapan posyandunya buka?", slots={"village_code": LAMBALE_BUTUR}),
    )
    assert messages[0]["text"].startswith("Posyandu di Lambale")


async def test_unknown_village_gets_a_helpful_reply(wiring: dict[str, Any]) -> None:
    messages, _ = await run(
        ActionPosyanduSchedule(**wiring), tracker("posyandu desa qwertyuiop kapan")
    )
    assert "tidak menemukan" in messages[0]["text"] and "qwertyuiop" in messages[0]["text"]


async def test_common_name_asks_for_the_district(wiring: dict[str, Any]) -> None:
    messages, _ = await run(ActionPosyanduSchedule(**wiring), tracker("posyandu mekarsari"))
    assert "kecamatan atau kabupaten" in messages[0]["text"]


async def test_district_only_offers_its_villages(wiring: dict[str, Any]) -> None:
    messages, _ = await run(
        ActionPosyanduSchedule(**wiring), tracker("jadwal posyandu kulisusu utra")
    )
    assert messages[0]["text"] == "Desa/kelurahan mana di Kec. Kulisusu Utara?"
    assert len(messages[0]["buttons"]) == 14


async def test_save_and_ask_my_posyandu(wiring: dict[str, Any]) -> None:
    directory: Directory = wiring["directory"]
    [first, *_] = await directory.in_village(LAMBALE_BUTUR)
    entities = [{"entity": "posyandu_id", "value": first.id}]
    messages, _ = await run(
        ActionSetMyPosyandu(**wiring), tracker("/set_my_posyandu", "set_my_posyandu", entities)
    )
    assert messages[0]["text"].startswith(f"Tersimpan: {first.name}")
    messages, _ = await run(
        ActionMyPosyanduSchedule(**wiring), tracker("kapan posyandu saya?", "ask_my_posyandu")
    )
    assert messages[0]["text"].startswith(f"Posyandu Anda: {first.name}")
    assert "WITA" in messages[0]["text"]
    other_user, _ = await run(
        ActionMyPosyanduSchedule(**wiring),
        tracker("kapan posyandu saya?", "ask_my_posyandu", sender="web:orang-lain"),
    )
    assert "belum menyimpan" in other_user[0]["text"]


async def test_itu_posyandu_saya_after_a_single_result(wiring: dict[str, Any]) -> None:
    directory: Directory = wiring["directory"]
    [first, *_] = await directory.in_village(LAMBALE_BUTUR)
    messages, _ = await run(
        ActionSetMyPosyandu(**wiring),
        tracker("itu posyandu saya", "set_my_posyandu", slots={"listed_posyandu": [first.id]}),
    )
    assert messages[0]["text"].startswith("Tersimpan:")


async def test_nearest_three_with_distances(wiring: dict[str, Any], finder: VillageFinder) -> None:
    village = finder.regions.by_code[LAMBALE_BUTUR]
    entities = [
        {"entity": "lat", "value": village.lat},
        {"entity": "lon", "value": village.lon},
    ]
    messages, events = await run(
        ActionNearestPosyandu(**wiring), tracker("/share_location", "share_location", entities)
    )
    text = messages[0]["text"]
    assert text.startswith("Posyandu terdekat dari lokasi Anda:")
    assert text.count(" km)") == 3
    assert len(events[0]["value"]) == 3


async def test_location_at_sea_says_so(wiring: dict[str, Any]) -> None:
    entities = [{"entity": "lat", "value": -6.0}, {"entity": "lon", "value": 125.0}]
    messages, _ = await run(
        ActionNearestPosyandu(**wiring), tracker("/share_location", "share_location", entities)
    )
    assert "Tidak ada Posyandu" in messages[0]["text"]


async def test_broken_location_gets_a_polite_reply(wiring: dict[str, Any]) -> None:
    entities = [{"entity": "lat", "value": "north"}, {"entity": "lon", "value": 1}]
    messages, _ = await run(
        ActionNearestPosyandu(**wiring), tracker("/share_location", "share_location", entities)
    )
    assert "tidak terbaca" in messages[0]["text"]
