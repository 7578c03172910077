import pytest

from actions.posyandu.lookup import PlaceQuery, VillageFinder
from actions.posyandu.regions import Regions, name_key, time_zone_of


@pytest.fixture(scope="module")
def finder() -> VillageFinder:
    return VillageFinder(Regions())


def paths(finder: VillageFinder, villages: list) -> list[str]:  # type: ignore[type-arg]
    return [finder.regions.path(v) for v in villages]


def test_village_by_name_after_a_marker(finder: VillageFinder) -> None:
    found = finder.find(PlaceQuery("posyandu di desa bonelipu kapan?"))
    assert paths(finder, found) == ["Bonelipu, Kec. Kulisusu, Kabupaten Buton Utara"]


def test_typo_in_village_name_is_forgiven(finder: VillageFinder) -> None:
    found = finder.find(PlaceQuery("posyandu di desa lambalee kapan?"))
    assert {v.name for v in found} == {"Lambale"}
    assert len(found) == 2  # Kabaena Timur (Bombana) and Kulisusu Barat (Buton Utara)


def test_name_in_many_places_returns_them_all(finder: VillageFinder) -> None:
    found = finder.find(PlaceQuery("jadwal posy kelurahan mekarsari"))
    assert len(found) > 100
    assert all(name_key(v.name) == "mekarsari" for v in found)


def test_district_narrows_an_ambiguous_name(finder: VillageFinder) -> None:
    found = finder.find(PlaceQuery("posyandu desa lambale kec kulisusu barat"))
    assert paths(finder, found) == ["Lambale, Kec. Kulisusu Barat, Kabupaten Buton Utara"]


def test_entities_from_rasa_are_used(finder: VillageFinder) -> None:
    found = finder.find(PlaceQuery("kapan ya", village="lambale", regency="bombana"))
    assert paths(finder, found) == ["Lambale, Kec. Kabaena Timur, Kabupaten Bombana"]


def test_district_with_a_typo_is_found(finder: VillageFinder) -> None:
    assert [a.name for a in finder.areas_in_text("jadwal posyandu kulisusu utra")] == [
        "Kulisusu Utara"
    ]


def test_no_place_in_the_text(finder: VillageFinder) -> None:
    assert finder.find(PlaceQuery("kapan jadwal posyandu bulan ini?")) == []


@pytest.mark.parametrize(
    ("code", "zone"),
    [("74.10.05.2003", "WITA"), ("32.01", "WIB"), ("91.03.01.2001", "WIT"), ("51", "WITA")],
)
def test_time_zone_by_province(code: str, zone: str) -> None:
    assert time_zone_of(code) == zone
