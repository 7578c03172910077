from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from actions.posyandu.directory import Directory
from actions.posyandu.importer import import_all, import_file, main
from actions.posyandu.records import read_changes
from actions.posyandu.regions import Regions
from actions.posyandu.schedule import TIME_ZONES, next_session
from tests.conftest import TEST_REDIS_URL

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


def row(posyandu_id: str, schedule: str, village: str = "74.10.05.2003") -> str:
    return f'{posyandu_id},Posyandu {posyandu_id},{village},Balai,-4.55,123.08,,"{schedule}"\n'


async def test_several_sessions_a_month_are_kept_and_unclear_rules_refused_by_line(
    tmp_path: Path, regions: Regions, directory: Directory
) -> None:
    path = tmp_path / "posyandu.csv"
    rows = [
        row("PY10", "tanggal 10 dan 25, 08.00-11.00"),  # line 2
        row("PY11", "Senin pertama dan ketiga, 08.00-11.00"),
        row("PY12", "minggu ke-2 hari Selasa, 08.00-11.00 WITA"),
        row("PY13", "Minggu kedua, 08.00-11.00"),  # line 5: week or Sunday?
        row("PY14", "Senin pertama atau ketiga, 08.00-11.00"),
        row("PY15", "tanggal 10 hari Senin, 08.00-11.00"),
        row("PY16", "tgl 5, 20 jam 08.00-11.00 WIB"),  # Buton Utara is WITA
        row("PY17", "Rabu ke-2 dan ke-4, 08.00-11.00"),
        row("PY18", "setiap Kamis minggu ketiga, 08.00-11.00"),
        row("PY19", "tgl 5, 20 08.00-11.00"),
    ]
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    counts, errors = await import_file(directory, path, regions, progress=False)
    assert counts.added == 6
    assert [e.line for e in errors] == [5, 6, 7, 8]
    assert all(e.message.startswith("schedule: ") for e in errors)
    assert "pekan atau hari Minggu" in errors[0].message
    assert "'atau' tidak jelas" in errors[1].message
    assert "dicampur" in errors[2].message
    assert "zona waktu WIB tidak cocok" in errors[3].message
    rules = {r.id: r.rule for r in await directory.in_village("74.10.05.2003")}
    assert rules["PY10"].days == (10, 25)
    assert rules["PY11"].weekdays == ((1, 0), (3, 0))
    assert rules["PY12"].weekdays == ((2, 1),)  # the second Tuesday, not the second Sunday
    assert rules["PY17"].weekdays == ((2, 2), (4, 2))
    assert rules["PY18"].weekdays == ((3, 3),)
    assert rules["PY19"].days == (5, 20)


HOLIDAYS_BAD = (
    "date,name\n"
    "2026-08-17,Hari Kemerdekaan\n"
    "17-08-2026,Hari Kemerdekaan\n"  # line 3
    "2026-02-30,tidak ada\n"  # line 4
    ",kosong\n"  # line 5
    "2026-12-25,Natal\n"
)


async def test_bad_holiday_lines_are_all_reported_and_nothing_is_written(
    tmp_path: Path, regions: Regions, directory: Directory, redis: Any, redis_prefix: str
) -> None:
    posyandu, changes, holidays = (tmp_path / n for n in ("p.csv", "c.csv", "h.csv"))
    posyandu.write_text(HEADER + "".join(GOOD), encoding="utf-8")
    changes.write_text(
        "posyandu_id,date,action,new_date,new_hours,note\nPY1,2026-03-10,batal,,,\n",
        encoding="utf-8",
    )
    holidays.write_text(HOLIDAYS_BAD, encoding="utf-8")
    report = await import_all(directory, posyandu, regions, changes, holidays, progress=False)
    assert report.refused
    assert [(e.line, e.message) for e in report.holiday_errors] == [
        (3, "date tidak sah: '17-08-2026' (tulis YYYY-MM-DD, contoh 2026-08-17)"),
        (4, "date: tanggal 2026-02-30 tidak ada"),
        (5, "date kosong"),
    ]
    assert report.counts.added == 0
    assert [key async for key in redis.scan_iter(match=f"{redis_prefix}*")] == []


async def test_holiday_file_without_a_date_column_is_refused(
    tmp_path: Path, regions: Regions, directory: Directory, redis: Any, redis_prefix: str
) -> None:
    posyandu, holidays = tmp_path / "p.csv", tmp_path / "h.csv"
    posyandu.write_text(HEADER + "".join(GOOD), encoding="utf-8")
    holidays.write_text("tanggal,nama\n2026-08-17,HUT RI\n", encoding="utf-8")
    report = await import_all(directory, posyandu, regions, holidays=holidays, progress=False)
    assert [str(e) for e in report.holiday_errors] == ["baris 1: kolom tidak ada: date"]
    assert [key async for key in redis.scan_iter(match=f"{redis_prefix}*")] == []


def test_command_line_refuses_bad_holidays_before_writing(
    tmp_path: Path,
    redis_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from redis import Redis

    posyandu, holidays = tmp_path / "p.csv", tmp_path / "libur.csv"
    posyandu.write_text(HEADER + "".join(GOOD), encoding="utf-8")
    holidays.write_text(HOLIDAYS_BAD, encoding="utf-8")
    monkeypatch.setenv("REDIS_URL", TEST_REDIS_URL)
    monkeypatch.setenv("KS_REDIS_PREFIX", redis_prefix)
    code = main([str(posyandu), "--holidays", str(holidays), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert "libur.csv baris 3: date tidak sah" in err
    assert "libur.csv baris 4:" in err and "libur.csv baris 5: date kosong" in err
    assert "tidak ada yang diimpor" in err
    client = Redis.from_url(TEST_REDIS_URL)
    try:
        assert list(client.scan_iter(match=f"{redis_prefix}*")) == []
    finally:
        client.close()


async def test_changes_must_name_a_session_of_the_schedule(
    tmp_path: Path, regions: Regions, directory: Directory
) -> None:
    posyandu, changes, holidays = (tmp_path / n for n in ("p.csv", "c.csv", "h.csv"))
    rows = [row("PY10", "tanggal 10 dan 25, 08.00-11.00"), row("PY11", "Sabtu pertama 08.00-11.00")]
    posyandu.write_text(HEADER + "".join(rows), encoding="utf-8")
    changes.write_text(
        "posyandu_id,date,action,new_date,new_hours,note\n"
        "PY10,2026-03-25,batal,,,kader rapat\n"  # line 2: the second session of March
        "PY10,2026-03-11,batal,,,\n"  # line 3: no session on the 11th
        "PY99,2026-03-10,batal,,,\n"  # line 4: no such Posyandu
        "PY10,2026-03-10,pindah,2026-03-12,13.00-11.00,\n",  # line 5: hours backwards
        encoding="utf-8",
    )
    holidays.write_text("date,name\n2026-08-01,libur\n", encoding="utf-8")
    report = await import_all(directory, posyandu, regions, changes, holidays, progress=False)
    assert not report.refused and report.counts.added == 2
    assert [e.line for e in report.change_errors] == [3, 4, 5]
    assert "bukan hari sesi PY10" in report.change_errors[0].message
    assert "tidak ada di direktori" in report.change_errors[1].message
    assert "jam selesai harus setelah jam mulai" in report.change_errors[2].message
    assert [c.original for c in await directory.changes_for("PY10")] == [dt.date(2026, 3, 25)]
    assert await directory.holidays() == frozenset({dt.date(2026, 8, 1)})

    record = await directory.get("PY10")
    assert record is not None
    now = dt.datetime(2026, 3, 11, tzinfo=TIME_ZONES["WITA"])
    changed = await directory.changes_for("PY10")
    session = next_session(record.rule, now, "WITA", changed, await directory.holidays())
    assert session is not None and session.start.date() == dt.date(2026, 4, 10)
    saturday = await directory.get("PY11")
    assert saturday is not None
    august = dt.datetime(2026, 7, 31, tzinfo=TIME_ZONES["WITA"])
    session = next_session(saturday.rule, august, "WITA", [], await directory.holidays())
    assert session is not None and session.start.date() == dt.date(2026, 8, 3)  # Monday
