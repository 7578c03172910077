from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from actions.posyandu.directory import Directory
from actions.posyandu.importer import import_file
from actions.posyandu.records import read_changes
from actions.posyandu.regions import Regions

ROOT = Path(__file__).resolve().parents[2]
HEADER = "id,name,village_code,address,lat,lon,cadre_contact,schedule\n"
GOOD = [
    "PY1,Posyandu Mawar I,74.10.05.2003,Balai Desa,-4.55,123.08,Ibu Hasnawati,"
    '"setiap tanggal 10, 08.00-11.00"\n',
    'PY2,Posyandu Melati II,74.10.05.2003,Polindes,-4.56,123.09,,"Selasa kedua, 08.00-11.00"\n',
]
BROKEN = [
    'PY3,Posyandu Tanpa Desa,99.99.99.9999,Balai,-4.5,123.0,,"setiap tanggal 3, 08.00-11.00"\n',
    'PY4,Posyandu Laut,74.10.05.2003,Balai,45.0,123.0,,"setiap tanggal 3, 08.00-11.00"\n',
    'PY5,Posyandu Kapan Saja,74.10.05.2003,Balai,-4.5,123.0,,"kapan saja"\n',
    "PY6,Posyandu Kurang Kolom\n",
    'PY 7,Posyandu Spasi,74.10.05.2003,Balai,-4.5,123.0,,"setiap tanggal 3, 08.00-11.00"\n',
]


@pytest.fixture(scope="module")
def regions() -> Regions:
    return Regions()


@pytest.fixture
def directory(redis: Any, redis_prefix: str) -> Directory:
    return Directory(redis, redis_prefix)


async def test_bad_rows_are_reported_by_line_and_good_rows_kept(
    tmp_path: Path, regions: Regions, directory: Directory
) -> None:
    path = tmp_path / "posyandu.csv"
    path.write_text(HEADER + GOOD[0] + "".join(BROKEN) + GOOD[1], encoding="utf-8")
    counts, errors = await import_file(directory, path, regions, progress=False)
    assert (counts.added, counts.updated, counts.unchanged) == (2, 0, 0)
    assert [error.line for error in errors] == [3, 4, 5, 6, 7]
    assert "tidak dikenal" in errors[0].message
    assert errors[1].message.startswith("lat")
    assert errors[2].message.startswith("schedule")
    assert [r.id for r in await directory.in_village("74.10.05.2003")] == ["PY1", "PY2"]


async def test_reimporting_the_same_file_changes_nothing(
    tmp_path: Path, regions: Regions, directory: Directory
) -> None:
    path = tmp_path / "posyandu.csv"
    path.write_text(HEADER + "".join(GOOD), encoding="utf-8")
    await import_file(directory, path, regions, progress=False)
    counts, errors = await import_file(directory, path, regions, progress=False)
    assert (counts.added, counts.updated, counts.unchanged, errors) == (0, 0, 2, [])


async def test_an_edited_row_is_updated_and_moves_village(
    tmp_path: Path, regions: Regions, directory: Directory
) -> None:
    path = tmp_path / "posyandu.csv"
    path.write_text(HEADER + "".join(GOOD), encoding="utf-8")
    await import_file(directory, path, regions, progress=False)
    moved = GOOD[1].replace("74.10.05.2003", "74.10.05.2004")
    path.write_text(HEADER + GOOD[0] + moved, encoding="utf-8")
    counts, _ = await import_file(directory, path, regions, progress=False)
    assert (counts.updated, counts.unchanged) == (1, 1)
    assert [r.id for r in await directory.in_village("74.10.05.2003")] == ["PY1"]
    assert [r.id for r in await directory.in_village("74.10.05.2004")] == ["PY2"]


async def test_missing_columns_are_one_clear_error(
    tmp_path: Path, regions: Regions, directory: Directory
) -> None:
    path = tmp_path / "posyandu.csv"
    path.write_text("id,name\nPY1,Posyandu\n", encoding="utf-8")
    counts, errors = await import_file(directory, path, regions, progress=False)
    assert counts.added == 0
    assert len(errors) == 1 and "kolom tidak ada" in errors[0].message


async def test_nearest_by_location_with_distance(
    tmp_path: Path, regions: Regions, directory: Directory
) -> None:
    path = tmp_path / "posyandu.csv"
    path.write_text(HEADER + "".join(GOOD), encoding="utf-8")
    await import_file(directory, path, regions, progress=False)
    found = await directory.nearest(-4.551, 123.081)
    assert [n.record.id for n in found] == ["PY1", "PY2"]
    assert found[0].km < found[1].km < 3
    assert await directory.nearest(-6.0, 125.0) == []  # the Banda Sea


async def test_changes_and_holidays_round_trip(tmp_path: Path, directory: Directory) -> None:
    path = tmp_path / "changes.csv"
    path.write_text(
        "posyandu_id,date,action,new_date,new_hours,note\n"
        "PY1,2026-03-10,pindah,2026-03-12,13.00-15.00,balai dipakai\n"
        "PY2,2026-03-10,batal,,,\n"
        "PY2,10-03-2026,batal,,,\n"
        "PY1,2026-04-10,libur,,,\n",
        encoding="utf-8",
    )
    changes, errors = read_changes(path)
    assert [e.line for e in errors] == [4, 5]
    await directory.set_changes(changes)
    await directory.set_holidays([dt.date(2026, 8, 17)])
    [moved] = await directory.changes_for("PY1")
    assert (moved.new_date, moved.new_start, moved.note) == (
        dt.date(2026, 3, 12),
        dt.time(13, 0),
        "balai dipakai",
    )
    assert (await directory.changes_for("PY2"))[0].cancelled
    assert await directory.holidays() == frozenset({dt.date(2026, 8, 17)})


async def test_shipped_buton_utara_demo_data_imports_cleanly(
    regions: Regions, directory: Directory
) -> None:
    path = ROOT / "data" / "posyandu" / "buton_utara.csv"
    counts, errors = await import_file(directory, path, regions, progress=False)
    assert errors == []
    assert counts.added >= 90
    villages = regions.villages_of("74.10")
    assert len(villages) == 90
    for village in villages:
        assert 1 <= len(await directory.in_village(village.code)) <= 4, village.name
