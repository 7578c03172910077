"""Spreadsheet export and import (XLSX and CSV) of the FAQ content and the Posyandu directory.

The flow the web layer follows, for either kind:

1. `export_*_xlsx` / `export_*_csv`: a file people edit in Excel or LibreOffice.
2. `read_*_upload(filename, data)`: file-level checks (type by content, size, headers);
   raises `SheetError` with an Indonesian message.
3. `validate_*`: a per-row report (baru / berubah / tidak berubah / galat, with the row
   number as the spreadsheet shows it, header = row 1). Nothing is written.
4. `apply_*`: writes the rows the report found new or changed and valid. FAQ rows become
   drafts (the four-eyes workflow publishes them); Posyandu rows go into the directory
   through `Directory.upsert`, as the command-line importer writes them.

An import never deletes: rows missing from the file are left as they are.

Cells that a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage
return) are written with a leading apostrophe, which the import removes again, so an export
imports unchanged. On import a cell that is a formula is refused, never evaluated or stored.

Posyandu records are checked by `actions.posyandu` (the `PosyanduRecord` model, its schedule
rule parser and the region table); this module only turns cells into text and pydantic's
messages into Indonesian ones.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import hashlib
import inspect
import io
import re
import zipfile
from collections.abc import (
    AsyncGenerator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import aclosing
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import islice
from typing import Any, Literal, get_args

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from pydantic import ValidationError

from actions.content import MAX_ANSWER_CHARS, FaqEntry, Issuer
from actions.posyandu.directory import Directory, ImportCounts
from actions.posyandu.records import COLUMNS as POSYANDU_FIELDS
from actions.posyandu.records import PosyanduRecord
from actions.posyandu.regions import Regions, time_zone_of
from actions.store import as_text

__all__ = [
    "FAQ_LIMITS",
    "POSYANDU_LIMITS",
    "FaqReport",
    "Limits",
    "RowResult",
    "SheetError",
    "SheetReport",
    "Status",
    "Upload",
    "apply_faq",
    "apply_posyandu",
    "directory_records",
    "export_faq_csv",
    "export_faq_xlsx",
    "export_posyandu_csv",
    "export_posyandu_xlsx",
    "faq_columns",
    "posyandu_columns",
    "read_faq_upload",
    "read_posyandu_upload",
    "validate_faq",
    "validate_posyandu",
]

Cell = str | int | float | bool | dt.datetime | dt.date | dt.time | None
Progress = Callable[[int, int], Awaitable[None] | None]
# (record before the write, or None for a new one; the record written), per chunk
Written = Callable[[list[tuple[PosyanduRecord | None, PosyanduRecord]]], Awaitable[None]]
Kind = Literal["faq", "posyandu"]


@dataclass(frozen=True)
class Limits:
    rows: int  # data rows (not counting the header)
    bytes: int  # the uploaded file
    unzipped_bytes: int  # an XLSX's content once unpacked (zip bombs)
    cell_chars: int = 5000
    columns: int = 100


FAQ_LIMITS = Limits(rows=500, bytes=5 * 2**20, unzipped_bytes=50 * 2**20)
POSYANDU_LIMITS = Limits(rows=100_000, bytes=40 * 2**20, unzipped_bytes=400 * 2**20)
CHUNK = 1000  # Posyandu rows validated (and looked up in Redis) at a time
EXTRA_SOURCE_GROUPS = 10  # the most "sumber_N_*" groups an import accepts

# --- layouts ---------------------------------------------------------------------------------

FAQ_SHEET = "FAQ"
FAQ_SOURCE_GROUPS = 3  # exported at least; more if an entry has more sources
_SOURCE_PARTS = {"judul": "title", "penerbit": "issuer", "tahun": "year", "url": "url"}
_SOURCE_COLUMN = re.compile(r"^sumber_(\d{1,2})_(judul|penerbit|tahun|url)$")
_FAQ_FIELDS = {  # header -> FaqEntry field, sources aside
    "id": "id",
    "judul": "title",
    "jawaban": "answer",
    "ditinjau": "reviewed",
    "terkait": "related",
    "catatan": "notes",
}

POSYANDU_SHEET = "Posyandu"
# PosyanduRecord field -> header in the console's files. The command-line importer's
# English names (actions/posyandu/records.py COLUMNS) are accepted on import too.
_POSYANDU_HEADERS = {
    "id": "id",
    "name": "nama",
    "village_code": "kode_desa",
    "address": "alamat",
    "lat": "lintang",
    "lon": "bujur",
    "cadre_contact": "kontak_kader",
    "schedule": "jadwal",
}
if set(_POSYANDU_HEADERS) != set(POSYANDU_FIELDS):  # pragma: no cover - a new record field
    raise RuntimeError("bot/console/sheets.py: Posyandu columns differ from records.COLUMNS")
_POSYANDU_PLACE = "wilayah"  # exported for reading only; ignored on import
_IGNORED = "#ignored"  # the field of a column the import reads past
_POSYANDU_ALIASES = {
    **{header: name for name, header in _POSYANDU_HEADERS.items()},
    **{name: name for name in POSYANDU_FIELDS},
}


def faq_columns(source_groups: int = FAQ_SOURCE_GROUPS) -> list[str]:
    """The FAQ sheet's headers, in order."""
    sources = [f"sumber_{n}_{part}" for n in range(1, source_groups + 1) for part in _SOURCE_PARTS]
    return ["id", "judul", "jawaban", *sources, "ditinjau", "terkait", "catatan"]


def posyandu_columns() -> list[str]:
    """The Posyandu sheet's headers, in order ("wilayah" is for reading only)."""
    headers = [_POSYANDU_HEADERS[name] for name in POSYANDU_FIELDS]
    at = headers.index("kode_desa") + 1
    return [*headers[:at], _POSYANDU_PLACE, *headers[at:]]


_FAQ_HELP = [
    ("id", "Kode topik: huruf kecil, satu titik, contoh balita.diare. Jangan diubah."),
    ("judul", "Judul topik, 3-40 karakter."),
    ("jawaban", f"Jawaban, 40-{MAX_ANSWER_CHARS} karakter. Baris baru boleh."),
    ("sumber_N_judul", "Judul sumber (paling sedikit satu sumber, sumber_1)."),
    (
        "sumber_N_penerbit",
        f"Salah satu dari: {', '.join(get_args(Issuer))}.",
    ),
    ("sumber_N_tahun", "Tahun terbit, contoh 2023."),
    ("sumber_N_url", "Alamat web sumber (boleh kosong)."),
    ("ditinjau", "Tanggal tinjauan, contoh 2026-08-17; tidak boleh di masa depan."),
    ("terkait", "Paling banyak 3 kode topik lain, dipisah koma."),
    ("catatan", "Catatan untuk peninjau (tidak dikirim ke warga)."),
    ("", "Impor membuat DRAF; draf baru tayang setelah disetujui orang kedua."),
    ("", "Baris yang tidak ada di file tidak dihapus."),
]
_POSYANDU_HELP = [
    ("id", "Kode Posyandu: huruf, angka, titik, garis bawah, tanda hubung; tanpa spasi."),
    ("nama", "Nama Posyandu, 3-120 karakter."),
    ("kode_desa", "Kode desa Kemendagri, contoh 74.10.05.2003."),
    ("wilayah", "Hanya keterangan; yang dipakai adalah kode_desa."),
    ("alamat", "Tempat kegiatan (boleh kosong)."),
    ("lintang, bujur", "Titik peta dalam derajat desimal, contoh -4.55 dan 123.08."),
    ("kontak_kader", "Nama dan/atau nomor kader, ditampilkan ke warga apa adanya."),
    (
        "jadwal",
        "Contoh: 'setiap tanggal 10, 08.00-11.00', 'Senin pertama dan ketiga, 08.00-11.00', "
        "'minggu ke-2 hari Selasa, 08.00-11.00'.",
    ),
    ("", "Baris yang tidak ada di file tidak dihapus."),
]


# --- errors and reports ----------------------------------------------------------------------


class SheetError(Exception):
    """A file that cannot be imported at all; the message is Indonesian and says why."""


class Status(StrEnum):
    NEW = "baru"
    CHANGED = "berubah"
    UNCHANGED = "tidak berubah"
    ERROR = "galat"


@dataclass
class RowResult:
    row: int  # as the spreadsheet shows it: the header is row 1
    id: str
    status: Status
    errors: list[str] = field(default_factory=list)


@dataclass
class SheetReport:
    """What an import would do, row by row. `digest` ties it to the file it came from."""

    kind: Kind
    digest: str
    rows: list[RowResult] = field(default_factory=list)

    @property
    def totals(self) -> dict[Status, int]:
        counts = dict.fromkeys(Status, 0)
        for result in self.rows:
            counts[result.status] += 1
        return counts

    @property
    def writable(self) -> int:
        """Rows an apply would write (new or changed, and valid)."""
        return sum(1 for r in self.rows if r.status in (Status.NEW, Status.CHANGED))

    @property
    def errors(self) -> list[RowResult]:
        return [r for r in self.rows if r.status is Status.ERROR]


@dataclass
class FaqReport(SheetReport):
    entries: dict[int, FaqEntry] = field(default_factory=dict)  # row -> entry, new or changed


# --- reading files ---------------------------------------------------------------------------

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the old .xls (and .doc) format


@dataclass(frozen=True)
class Upload:
    """An uploaded sheet whose type, size and headers are fine; rows are read on demand."""

    kind: Kind
    filename: str
    format: Literal["xlsx", "csv"]
    columns: tuple[str, ...]  # field per position ("" for no header, _IGNORED)
    data: bytes = field(repr=False)
    limits: Limits
    estimated_rows: int  # for progress; the exact count is known after reading
    sheet: str = ""
    text_encoding: str = "utf-8-sig"
    delimiter: str = ","
    source_groups: tuple[int, ...] = ()  # FAQ: the "sumber_N" groups, in column order

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def rows(self) -> Generator[tuple[int, dict[str, Cell], list[str]], None, None]:
        """(row number, cells by field, problems) of each non-empty data row, streamed."""
        raw = self._xlsx_rows() if self.format == "xlsx" else self._csv_rows()
        width = len(self.columns)
        count = 0
        for number, values in raw:
            if number - 1 > self.limits.rows * 5:
                raise SheetError(_too_many_rows(self.limits))
            if all(_blank(v) for v in values):
                continue
            count += 1
            if count > self.limits.rows:
                raise SheetError(_too_many_rows(self.limits))
            cells: dict[str, Cell] = {}
            problems: list[str] = []
            for index, value in enumerate(values):
                name = self.columns[index] if index < width else ""
                if name == _IGNORED:
                    continue
                if name:
                    cells[name] = value
                elif not _blank(value):
                    problems.append(
                        f"kolom {get_column_letter(index + 1)} berisi data tetapi tidak "
                        "berjudul; hapus isinya atau beri judul kolom yang dikenal"
                    )
            yield number, cells, problems

    def _xlsx_rows(self) -> Iterator[tuple[int, Sequence[Cell]]]:
        book = _open_xlsx(self.data)
        try:
            sheet = book[self.sheet]
            sheet.reset_dimensions()  # a wrong <dimension> would cut rows off silently
            values = sheet.iter_rows(min_row=2, max_col=len(self.columns) + 1, values_only=True)
            yield from enumerate(values, start=2)
        finally:
            book.close()

    def _csv_rows(self) -> Iterator[tuple[int, Sequence[Cell]]]:
        reader = csv.reader(
            io.StringIO(self.data.decode(self.text_encoding), newline=""),
            delimiter=self.delimiter,
        )
        number = 1
        try:
            next(reader, None)
            for number, values in enumerate(reader, start=2):
                yield number, values
        except csv.Error as error:
            raise SheetError(
                f"Baris {number + 1} tidak bisa dibaca sebagai CSV ({_csv_reason(error)})."
            ) from None


def read_faq_upload(filename: str, data: bytes) -> Upload:
    """Check an uploaded FAQ sheet (type, size, headers); SheetError says what is wrong."""
    return _read_upload("faq", filename, data)


def read_posyandu_upload(filename: str, data: bytes) -> Upload:
    """Check an uploaded Posyandu sheet (type, size, headers); SheetError says what is wrong."""
    return _read_upload("posyandu", filename, data)


def _read_upload(kind: Kind, filename: str, data: bytes) -> Upload:
    limits = FAQ_LIMITS if kind == "faq" else POSYANDU_LIMITS
    if not data:
        raise SheetError("File kosong. Pilih file XLSX atau CSV yang berisi data.")
    if len(data) > limits.bytes:
        raise SheetError(
            f"File terlalu besar ({_mb(len(data))}; paling besar {_mb(limits.bytes)}). "
            "Bagi menjadi beberapa file."
        )
    if data.startswith(_ZIP_MAGIC):
        return _read_xlsx_upload(kind, filename, data, limits)
    if data.startswith(_OLE_MAGIC):
        raise SheetError(
            "Format .xls lama tidak didukung. Simpan sebagai .xlsx (Excel Workbook) atau .csv."
        )
    return _read_csv_upload(kind, filename, data, limits)


def _read_xlsx_upload(kind: Kind, filename: str, data: bytes, limits: Limits) -> Upload:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError):
        raise SheetError(
            "File XLSX ini rusak atau tidak lengkap. Simpan ulang lalu unggah."
        ) from None
    if "xl/workbook.xml" not in names:
        if "content.xml" in names:
            raise SheetError(
                "File ini format LibreOffice (.ods). Simpan sebagai .xlsx atau .csv lalu unggah."
            )
        raise SheetError("File ini bukan XLSX atau CSV. Unggah file .xlsx atau .csv.")
    if unpacked > limits.unzipped_bytes:
        raise SheetError(
            f"Isi file XLSX terlalu besar ({_mb(unpacked)} setelah dibuka). "
            "Bagi menjadi beberapa file."
        )
    book = _open_xlsx(data)
    try:
        wanted = FAQ_SHEET if kind == "faq" else POSYANDU_SHEET
        names_ = list(book.sheetnames)
        sheet_name = wanted if wanted in names_ else names_[0]
        sheet = book[sheet_name]
        declared = sheet.max_row or 0
        first = next(sheet.iter_rows(min_row=1, max_row=1, values_only=True), ())
    finally:
        book.close()
    if declared - 1 > limits.rows:
        raise SheetError(_too_many_rows(limits))
    header = _trim(list(first))
    columns, groups = _check_header(kind, header, limits)
    return Upload(
        kind=kind,
        filename=filename,
        format="xlsx",
        columns=columns,
        data=data,
        limits=limits,
        estimated_rows=max(declared - 1, 0),
        sheet=sheet_name,
        source_groups=groups,
    )


def _open_xlsx(data: bytes) -> Any:
    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception:  # openpyxl raises many kinds (KeyError, ValueError, XML errors)
        raise SheetError(
            "File XLSX ini tidak bisa dibuka. Simpan ulang di Excel/LibreOffice lalu unggah."
        ) from None


def _read_csv_upload(kind: Kind, filename: str, data: bytes, limits: Limits) -> Upload:
    encoding = _text_encoding(data)
    text = data.decode(encoding)
    first_line = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first_line.count)
    if not first_line.count(delimiter):
        delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header: list[Cell] = _trim(list(next(reader, [])))
    except csv.Error as error:
        raise SheetError(f"Baris 1 tidak bisa dibaca sebagai CSV ({_csv_reason(error)}).") from None
    if not header:
        raise SheetError("File tidak berisi baris judul kolom. Mulai dari file hasil ekspor.")
    columns, groups = _check_header(kind, header, limits)
    return Upload(
        kind=kind,
        filename=filename,
        format="csv",
        columns=columns,
        data=data,
        limits=limits,
        estimated_rows=max(text.count("\n") - 1, 0),
        text_encoding=encoding,
        delimiter=delimiter,
        source_groups=groups,
    )


def _text_encoding(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, or Windows-1252 (Excel's "CSV" on
    Windows); anything binary is refused."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    elif b"\x00" in data[:4096]:
        raise SheetError("File ini bukan XLSX atau CSV. Unggah file .xlsx atau .csv.")
    else:
        encoding = "utf-8-sig"
    for candidate in (encoding, "cp1252"):
        try:
            text = data.decode(candidate)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break
        return candidate
    raise SheetError(
        "File ini bukan XLSX atau CSV yang bisa dibaca. Simpan sebagai CSV UTF-8 atau .xlsx."
    )


def _header_key(value: Cell) -> str:
    text = "" if value is None else str(value)
    return re.sub(r"[\s\-]+", "_", text.replace("\ufeff", "").strip().lower())


def _check_header(
    kind: Kind, header: list[Cell], limits: Limits
) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Fields by position, and the FAQ's source group numbers; SheetError naming every
    missing, unknown and repeated column."""
    if len(header) > limits.columns:
        raise SheetError(f"Terlalu banyak kolom ({len(header)}). Mulai dari file hasil ekspor.")
    keys = [_header_key(value) for value in header]
    if not any(keys):
        raise SheetError("Baris 1 kosong: baris pertama harus berisi judul kolom.")
    fields: list[str] = []
    unknown: list[str] = []
    for key in keys:
        name = _faq_field(key) if kind == "faq" else _posyandu_field(key)
        if name is None:
            unknown.append(key)
            name = ""
        fields.append(name)
    named = [name for name in fields if name and name != _IGNORED]
    repeated = sorted({name for name in named if named.count(name) > 1})
    groups = sorted({int(n.split("_")[1]) for n in named if n.startswith("sumber_")})
    if kind == "faq":
        required = [*_FAQ_FIELDS, *(f"sumber_1_{part}" for part in _SOURCE_PARTS)]
        required += [f"sumber_{n}_{part}" for n in groups for part in _SOURCE_PARTS]
    else:
        required = list(POSYANDU_FIELDS)
    missing = [_shown(kind, name) for name in dict.fromkeys(required) if name not in named]
    problems = []
    if missing:
        problems.append(f"kolom tidak ada: {', '.join(missing)}")
    if unknown:
        problems.append(f"kolom tidak dikenal: {', '.join(unknown)}")
    if repeated:
        problems.append(f"kolom ganda: {', '.join(_shown(kind, n) for n in repeated)}")
    if problems:
        raise SheetError(
            "Judul kolom di baris 1 tidak sesuai (" + "; ".join(problems) + "). "
            "Pakai judul kolom dari file hasil ekspor."
        )
    return tuple(fields), tuple(groups)


def _faq_field(key: str) -> str | None:
    if not key:
        return ""
    if key in _FAQ_FIELDS:
        return key
    match = _SOURCE_COLUMN.match(key)
    if match and 1 <= int(match.group(1)) <= EXTRA_SOURCE_GROUPS:
        return f"sumber_{int(match.group(1))}_{match.group(2)}"
    return None


def _posyandu_field(key: str) -> str | None:
    if key == _POSYANDU_PLACE:
        return _IGNORED
    if not key:
        return ""
    return _POSYANDU_ALIASES.get(key)


def _shown(kind: Kind, name: str) -> str:
    """A field as the console's files head it."""
    return _POSYANDU_HEADERS.get(name, name) if kind == "posyandu" else name


def _trim(values: list[Cell]) -> list[Cell]:
    while values and _blank(values[-1]):
        values.pop()
    return values


def _blank(value: Cell) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _too_many_rows(limits: Limits) -> str:
    return (
        f"File berisi lebih dari {limits.rows:,} baris data. Bagi menjadi beberapa file."
    ).replace(",", ".")


def _mb(size: int) -> str:
    return f"{size / 2**20:.1f} MB".replace(".", ",")


def _csv_reason(error: csv.Error) -> str:
    if "field larger" in str(error):
        return "ada sel yang terlalu besar"
    return "tanda kutip tidak berpasangan atau karakter aneh"


# --- cells -----------------------------------------------------------------------------------

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)?(?:[eE][+-]?\d+)?$")
_PHONE = re.compile(r"^\+?[\d\s().-]+$")
_EXCEL_ERRORS = {"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"}


class _CellProblem(ValueError):
    pass


def _neutral(text: str) -> str:
    """Text a spreadsheet will show and never run: a formula-like start gets an apostrophe."""
    text = ILLEGAL_CHARACTERS_RE.sub("", text)
    if (text.startswith((*_TRIGGERS, "'")) and not _NUMBER.match(text)) or text in _EXCEL_ERRORS:
        return "'" + text
    return text


def _cell_text(value: Cell, limits: Limits) -> str:
    """A cell as stripped text; a formula, an Excel error or a huge cell is a _CellProblem."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if len(value) > limits.cell_chars:
        raise _CellProblem(
            f"isinya terlalu panjang ({len(value):,} karakter; paling banyak "
            f"{limits.cell_chars:,})".replace(",", ".")
        )
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    if text[:1] == "'" and (text[1:2] in (*_TRIGGERS, "'") or text[1:] in _EXCEL_ERRORS):
        return text[1:].strip()  # our own export's apostrophe: the text as it was
    text = text.strip()
    if _is_formula(text):
        raise _CellProblem(
            f"berisi rumus ({_clip(text)}); rumus tidak diterima, tulis nilainya saja"
        )
    if text in _EXCEL_ERRORS:
        raise _CellProblem(f"berisi galat Excel {text}; tulis nilainya saja")
    return text


def _is_formula(text: str) -> bool:
    """What Excel or LibreOffice would run: =..., @..., +/- unless a number, a phone number
    or a "- " list item."""
    if text[:1] in ("=", "@"):
        return True
    if text[:1] in ("+", "-"):
        harmless = text[1:2].isspace() or _NUMBER.match(text) or _PHONE.match(text)
        return not harmless
    return False


def _clip(text: str, size: int = 30) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


# --- pydantic messages in Indonesian ---------------------------------------------------------

_PATTERN_HINTS = {
    "faq:id": "tulis kode topik seperti balita.diare (huruf kecil dan _, satu titik)",
    "faq:terkait": "tulis kode topik seperti balita.diare (huruf kecil dan _, satu titik)",
    "posyandu:id": "hanya huruf, angka, titik, garis bawah dan tanda hubung, tanpa spasi, "
    "paling banyak 64 karakter",
    "posyandu:kode_desa": "tulis kode desa Kemendagri seperti 74.10.05.2003",
}
_DATE_HINT = "tanggal tidak sah; tulis seperti 2026-08-17 (tahun-bulan-tanggal)"


def _messages(
    kind: Kind, error: ValidationError, column_of: Callable[[tuple[int | str, ...]], str]
) -> list[str]:
    messages = []
    for item in error.errors():
        column = column_of(tuple(item["loc"]))
        messages.append(f"{column}: {_reason(kind, column, item)}")
    return list(dict.fromkeys(messages))


def _reason(kind: Kind, column: str, item: Any) -> str:
    kind_, ctx, given = item["type"], item.get("ctx") or {}, item.get("input")
    if kind_ == "missing" or (isinstance(given, str) and not given.strip()):
        return "wajib diisi"
    if kind_ == "string_too_short":
        return f"terlalu pendek (paling sedikit {ctx.get('min_length')} karakter)"
    if kind_ == "string_too_long":
        return (
            f"terlalu panjang ({len(str(given))} karakter; paling banyak {ctx.get('max_length')})"
        )
    if kind_ == "string_pattern_mismatch":
        hint = _PATTERN_HINTS.get(f"{kind}:{column.split(' ')[0]}", "formatnya tidak sesuai")
        return f"{_clip(str(given))!r} tidak sah; {hint}"
    if kind_ == "literal_error":
        return f"{_clip(str(given))!r} tidak dikenal; harus salah satu dari {ctx.get('expected')}"
    if kind_ in ("int_parsing", "int_from_float", "int_type"):
        return f"{_clip(str(given))!r} bukan bilangan bulat (contoh 2023)"
    if kind_ in ("float_parsing", "float_type", "finite_number"):
        return f"{_clip(str(given))!r} bukan angka (contoh -4.55)"
    if kind_ == "greater_than_equal":
        return f"{given} terlalu kecil (paling kecil {ctx.get('ge')})"
    if kind_ == "less_than_equal":
        return f"{given} terlalu besar (paling besar {ctx.get('le')})"
    if kind_.startswith("date"):
        return f"{_clip(str(given))!r}: {_DATE_HINT}"
    if kind_ == "too_short":
        return "isi paling sedikit satu sumber (judul, penerbit, tahun)"
    if kind_ == "too_long":
        return f"paling banyak {ctx.get('max_length')} topik"
    if kind_ == "value_error" and "error" in ctx:
        return str(ctx["error"])  # e.g. the schedule parser's own Indonesian message
    return str(item.get("msg", "tidak sah"))


# --- FAQ -------------------------------------------------------------------------------------


def export_faq_xlsx(entries: Iterable[FaqEntry]) -> bytes:
    """The FAQ sheet as an XLSX workbook (sheet "FAQ", with a "Petunjuk" sheet)."""
    listed = sorted(entries, key=lambda e: e.id)
    columns = faq_columns(_source_groups(listed))
    book = Workbook(write_only=True)
    sheet = book.create_sheet(FAQ_SHEET)
    widths = {"id": 24, "judul": 28, "jawaban": 70, "catatan": 40, "terkait": 30}
    _start_sheet(sheet, columns, widths)
    wrap = Alignment(wrap_text=True, vertical="top")
    for entry in listed:
        row = []
        for column, value in zip(columns, _faq_values(entry, columns, xlsx=True), strict=True):
            cell = WriteOnlyCell(sheet, value=value)
            if column in ("jawaban", "catatan"):
                cell.alignment = wrap
            row.append(cell)
        sheet.append(row)
    _help_sheet(book, _FAQ_HELP)
    return _saved(book)


def export_faq_csv(entries: Iterable[FaqEntry]) -> bytes:
    """The FAQ sheet as CSV (UTF-8 with BOM, comma-separated)."""
    listed = sorted(entries, key=lambda e: e.id)
    columns = faq_columns(_source_groups(listed))
    return _csv_bytes(columns, (_faq_values(e, columns, xlsx=False) for e in listed))


def _source_groups(entries: list[FaqEntry]) -> int:
    return max([FAQ_SOURCE_GROUPS, *(len(e.sources) for e in entries)])


def _faq_values(entry: FaqEntry, columns: list[str], xlsx: bool) -> list[Cell]:
    values: dict[str, Cell] = {
        "id": _neutral(entry.id),
        "judul": _neutral(entry.title),
        "jawaban": _neutral(entry.answer),
        "ditinjau": entry.reviewed if xlsx else entry.reviewed.isoformat(),
        "terkait": ", ".join(entry.related),
        "catatan": _neutral((entry.notes or "").strip()),
    }
    for n, source in enumerate(entry.sources, start=1):
        values[f"sumber_{n}_judul"] = _neutral(source.title)
        values[f"sumber_{n}_penerbit"] = _neutral(source.issuer)
        values[f"sumber_{n}_tahun"] = source.year if xlsx else str(source.year)
        values[f"sumber_{n}_url"] = _neutral(source.url or "")
    return [values.get(column, "") for column in columns]


def validate_faq(
    upload: Upload, current: Mapping[str, FaqEntry], today: dt.date | None = None
) -> FaqReport:
    """Row by row, what importing the FAQ sheet would do against `current` (the entries as
    the editor knows them, drafts included). Nothing is written."""
    if upload.kind != "faq":
        raise SheetError("File ini bukan lembar FAQ.")
    today = today or dt.date.today()
    report = FaqReport(kind="faq", digest=upload.digest)
    parsed: dict[int, FaqEntry] = {}
    first_row: dict[str, int] = {}
    for number, cells, problems in upload.rows():
        entry, errors = _faq_entry(cells, upload, today)
        errors = problems + errors
        topic = entry.id if entry else _faq_id_text(cells)
        result = RowResult(number, topic, Status.ERROR, errors)
        report.rows.append(result)
        if topic and topic in first_row:
            _duplicate(report.rows, first_row[topic], result)
        elif topic:
            first_row[topic] = len(report.rows) - 1
        if entry is not None and not result.errors:
            parsed[number] = entry
    _check_related(report, parsed, current)
    for result in report.rows:
        entry_ = parsed.get(result.row)
        if result.errors or entry_ is None:
            result.status = Status.ERROR
            continue
        before = current.get(entry_.id)
        if before is None:
            result.status = Status.NEW
        elif _faq_key(before) == _faq_key(entry_):
            result.status = Status.UNCHANGED
            continue
        else:
            result.status = Status.CHANGED
        report.entries[result.row] = entry_
    return report


async def apply_faq(report: FaqReport, save_draft: Callable[[FaqEntry], Awaitable[None]]) -> int:
    """Hand each new or changed, valid entry to `save_draft` (the console's draft store:
    nothing is published here). Returns how many were saved."""
    saved = 0
    for result in report.rows:
        if result.status in (Status.NEW, Status.CHANGED) and not result.errors:
            await save_draft(report.entries[result.row])
            saved += 1
    return saved


def _faq_id_text(cells: Mapping[str, Cell]) -> str:
    value = cells.get("id")
    return value.strip() if isinstance(value, str) else str(value or "")


def _faq_entry(
    cells: Mapping[str, Cell], upload: Upload, today: dt.date
) -> tuple[FaqEntry | None, list[str]]:
    errors: list[str] = []

    def text(column: str) -> str:
        try:
            return _cell_text(cells.get(column), upload.limits)
        except _CellProblem as problem:
            errors.append(f"{column}: {problem}")
            return ""

    values: dict[str, Any] = {
        "id": text("id"),
        "title": text("judul"),
        "answer": text("jawaban"),
        "notes": text("catatan") or None,
    }
    related = text("terkait")
    values["related"] = [t for t in re.split(r"[,;\s]+", related) if t]
    reviewed = _date_cell(cells.get("ditinjau"), upload.limits)
    if isinstance(reviewed, str):
        errors.append(f"ditinjau: {reviewed}")
    else:
        values["reviewed"] = reviewed
        if reviewed > today:
            errors.append(
                f"ditinjau: {reviewed.isoformat()} belum lewat; tanggal tinjauan tidak boleh "
                "di masa depan"
            )
    sources: list[dict[str, Any]] = []
    groups: list[int] = []
    for n in upload.source_groups:
        parts = {part: text(f"sumber_{n}_{part}") for part in _SOURCE_PARTS}
        if not any(parts.values()):
            continue
        groups.append(n)
        sources.append(
            {
                "title": parts["judul"],
                "issuer": parts["penerbit"],
                "year": parts["tahun"],
                "url": parts["url"] or None,
            }
        )
    values["sources"] = sources

    def column_of(loc: tuple[int | str, ...]) -> str:
        if loc[:1] == ("sources",):
            if len(loc) >= 3 and isinstance(loc[1], int):
                part = {v: k for k, v in _SOURCE_PARTS.items()}.get(str(loc[2]), str(loc[2]))
                return f"sumber_{groups[loc[1]]}_{part}"
            return "sumber_1_judul"
        if loc[:1] == ("related",) and len(loc) > 1 and isinstance(loc[1], int):
            return f"terkait ({values['related'][loc[1]]})"
        header = {v: k for k, v in _FAQ_FIELDS.items()}
        return header.get(str(loc[0]), str(loc[0])) if loc else "baris"

    try:
        entry = FaqEntry.model_validate(values)
    except ValidationError as error:
        return None, errors + _unless_reported(_messages("faq", error, column_of), errors)
    return (None, errors) if errors else (entry, [])


def _date_cell(value: Cell, limits: Limits) -> dt.date | str:
    """A date from an XLSX date cell or text (2026-08-17, 17/08/2026, 17-08-2026);
    the Indonesian problem as text when it is none of these."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        text = _cell_text(value, limits)
    except _CellProblem as problem:
        return str(problem)
    if not text:
        return "wajib diisi"
    match = re.match(r"^(\d{4})-(\d{1,2})-(\d{1,2})$", text) or re.match(
        r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$", text
    )
    if match:
        numbers = [int(g) for g in match.groups()]
        year, month, day = numbers if numbers[0] > 31 else numbers[::-1]
        try:
            return dt.date(year, month, day)
        except ValueError:
            return f"tanggal {text} tidak ada"
    return f"{_clip(text)!r}: {_DATE_HINT}"


def _faq_key(entry: FaqEntry) -> dict[str, Any]:
    """What counts as a change: empty notes and URLs are the same as none."""
    data = entry.model_dump()
    data["notes"] = (entry.notes or "").strip() or None
    data["sources"] = [{**s, "url": s["url"] or None} for s in data["sources"]]
    return data


def _check_related(
    report: FaqReport, parsed: dict[int, FaqEntry], current: Mapping[str, FaqEntry]
) -> None:
    """Related topics must exist (now, or as a valid row of this file) and not be the entry
    itself; checked until no more rows fall out."""
    by_row = {result.row: result for result in report.rows}
    changed = True
    while changed:
        changed = False
        known = set(current) | {e.id for n, e in parsed.items() if not by_row[n].errors}
        for number, entry in parsed.items():
            result = by_row[number]
            if result.errors:
                continue
            unknown = [t for t in entry.related if t == entry.id or t not in known]
            if unknown:
                result.errors.append(f"terkait: topik tidak ditemukan: {', '.join(unknown)}")
                changed = True


def _duplicate(rows: list[RowResult], first_index: int, later: RowResult) -> None:
    first = rows[first_index]
    later.errors.append(f"id: {later.id} sudah dipakai di baris {first.row}")
    note = f"id: {first.id} dipakai lagi di baris {later.row}"
    if not any(e.startswith(f"id: {first.id} dipakai lagi") for e in first.errors):
        first.errors.append(note + "; satu id hanya boleh satu baris")
    first.status = Status.ERROR


# --- Posyandu --------------------------------------------------------------------------------


async def directory_records(directory: Directory) -> Iterator[PosyanduRecord]:
    """Every record in the directory, sorted by id (read at once, parsed one by one)."""
    # Directory has no bulk read yet (a `Directory.records()` / `get_many()` would be
    # better); its own key attribute is used so that the key layout stays in one place.
    key = directory._records
    raws: dict[str, bytes | str] = {}
    async for posyandu_id, raw in directory.redis.hscan_iter(key, count=2000):
        raws[as_text(posyandu_id)] = raw
    return (PosyanduRecord.model_validate_json(raws[pid]) for pid in sorted(raws))


def export_posyandu_xlsx(records: Iterable[PosyanduRecord], regions: Regions) -> bytes:
    """The Posyandu sheet as an XLSX workbook (sheet "Posyandu", with a "Petunjuk" sheet)."""
    columns = posyandu_columns()
    book = Workbook(write_only=True)
    sheet = book.create_sheet(POSYANDU_SHEET)
    widths = {"id": 18, "nama": 30, "kode_desa": 15, "wilayah": 40, "alamat": 30}
    _start_sheet(sheet, columns, {**widths, "kontak_kader": 24, "jadwal": 40})
    for record in records:
        sheet.append(_posyandu_values(record, regions, xlsx=True))
    _help_sheet(book, _POSYANDU_HELP)
    return _saved(book)


def export_posyandu_csv(records: Iterable[PosyanduRecord], regions: Regions) -> bytes:
    """The Posyandu sheet as CSV (UTF-8 with BOM, comma-separated)."""
    return _csv_bytes(
        posyandu_columns(), (_posyandu_values(r, regions, xlsx=False) for r in records)
    )


def _posyandu_values(record: PosyanduRecord, regions: Regions, xlsx: bool) -> list[Cell]:
    village = regions.get(record.village_code)
    values: dict[str, Cell] = {
        _POSYANDU_HEADERS[name]: _neutral(str(getattr(record, name))) for name in POSYANDU_FIELDS
    }
    values["lintang"] = record.lat if xlsx else repr(record.lat)
    values["bujur"] = record.lon if xlsx else repr(record.lon)
    values[_POSYANDU_PLACE] = _neutral(regions.path(village)) if village else ""
    return [values[column] for column in posyandu_columns()]


async def validate_posyandu(
    upload: Upload,
    directory: Directory,
    regions: Regions,
    in_scope: Callable[[PosyanduRecord], bool] | None = None,
    progress: Progress | None = None,
) -> SheetReport:
    """Row by row, what importing the Posyandu sheet would do to the directory. Nothing is
    written. `in_scope` (from the console's auth) limits which Posyandu the account may
    add or change; `progress(done, estimated_total)` is called after each chunk."""
    if upload.kind != "posyandu":
        raise SheetError("File ini bukan lembar Posyandu.")
    report = SheetReport(kind="posyandu", digest=upload.digest)
    first_row: dict[str, int] = {}
    async with aclosing(_posyandu_chunks(upload, regions)) as chunks:
        async for chunk in chunks:
            await _statuses(chunk, directory, in_scope)
            for result, _record in chunk:
                report.rows.append(result)
                if result.id and result.id in first_row:
                    _duplicate(report.rows, first_row[result.id], result)
                    result.status = Status.ERROR
                elif result.id:
                    first_row[result.id] = len(report.rows) - 1
            if progress is not None:
                done = len(report.rows)
                await _call(progress, done, max(upload.estimated_rows, done))
    return report


async def apply_posyandu(
    upload: Upload,
    report: SheetReport,
    directory: Directory,
    regions: Regions,
    in_scope: Callable[[PosyanduRecord], bool] | None = None,
    progress: Progress | None = None,
    written: Written | None = None,
) -> ImportCounts:
    """Write the rows `report` found new or changed, checked again as they are read (the
    file is streamed, not held as records), with `Directory.upsert` as the importer does.
    `progress(done, total)` counts the rows to write; `written(before, after)` gets each
    chunk's records as they were (None: new) and as written, for the audit log."""
    if report.kind != "posyandu" or report.digest != upload.digest:
        raise SheetError("Laporan pemeriksaan bukan untuk file ini. Periksa ulang file-nya.")
    wanted = {r.row for r in report.rows if r.status in (Status.NEW, Status.CHANGED)}
    total, done = len(wanted), 0
    counts = ImportCounts()
    if progress is not None:
        await _call(progress, 0, total)
    async with aclosing(_posyandu_chunks(upload, regions, only=wanted)) as chunks:
        async for chunk in chunks:
            await _statuses(chunk, directory, in_scope)
            batch = [record for result, record in chunk if record and not result.errors]
            before = await directory.get_many([r.id for r in batch]) if written else {}
            stored = await directory.upsert(batch)
            counts.added += stored.added
            counts.updated += stored.updated
            counts.unchanged += stored.unchanged
            if written is not None and batch:
                await written([(before.get(r.id), r) for r in batch])
            done += len(chunk)
            if progress is not None:
                await _call(progress, done, total)
    return counts


async def _posyandu_chunks(
    upload: Upload, regions: Regions, only: set[int] | None = None
) -> AsyncGenerator[list[tuple[RowResult, PosyanduRecord | None]], None]:
    """Chunks of (row result, record or None), parsed and checked in a worker thread so the
    event loop keeps serving while a large file is read. With `only`, other rows are
    skipped (not checked)."""
    rows = upload.rows()

    def next_chunk() -> tuple[list[tuple[RowResult, PosyanduRecord | None]], bool]:
        chunk = []
        read = 0
        for number, cells, problems in islice(rows, CHUNK):
            read += 1
            if only is None or number in only:
                chunk.append(_posyandu_row(number, cells, problems, regions, upload.limits))
        return chunk, read < CHUNK

    try:
        finished = False
        while not finished:
            chunk, finished = await asyncio.to_thread(next_chunk)
            if chunk:
                yield chunk
    finally:
        rows.close()


def _posyandu_row(
    number: int, cells: Mapping[str, Cell], problems: list[str], regions: Regions, limits: Limits
) -> tuple[RowResult, PosyanduRecord | None]:
    errors = list(problems)
    values: dict[str, str] = {}
    for name in POSYANDU_FIELDS:
        try:
            text = _cell_text(cells.get(name), limits)
        except _CellProblem as problem:
            errors.append(f"{_POSYANDU_HEADERS[name]}: {problem}")
            text = ""
        if name in ("lat", "lon") and re.match(r"^-?\d+,\d+$", text):
            text = text.replace(",", ".")  # a decimal comma (Indonesian Excel)
        values[name] = text
    result = RowResult(number, values["id"], Status.ERROR, errors)
    try:
        record = PosyanduRecord.model_validate(values)
    except ValidationError as error:

        def column_of(loc: tuple[int | str, ...]) -> str:
            return _POSYANDU_HEADERS.get(str(loc[0]), str(loc[0])) if loc else "baris"

        errors += _unless_reported(_messages("posyandu", error, column_of), errors)
        return result, None
    if errors:
        return result, None
    result.id = record.id
    place = _place_problem(record, regions)
    if place:
        result.errors.append(place)
        return result, None
    return result, record


def _unless_reported(messages: list[str], reported: list[str]) -> list[str]:
    """The messages about columns that have no message yet (a refused cell reads as empty)."""
    columns = {message.split(":", 1)[0] for message in reported}
    return [m for m in messages if m.split(":", 1)[0].split(" (")[0] not in columns]


def _place_problem(record: PosyanduRecord, regions: Regions) -> str | None:
    """The importer's place checks (actions/posyandu/records.py and importer.py): a known
    village, and a time zone in the schedule that is the village's own."""
    if regions.get(record.village_code) is None:
        return f"kode_desa: kode desa {record.village_code} tidak dikenal"
    zone, named = time_zone_of(record.village_code), record.rule.zone
    if named is not None and named != zone:
        return f"jadwal: zona waktu {named} tidak cocok dengan desa {record.village_code} ({zone})"
    return None


async def _statuses(
    chunk: list[tuple[RowResult, PosyanduRecord | None]],
    directory: Directory,
    in_scope: Callable[[PosyanduRecord], bool] | None,
) -> None:
    """Set each valid row's status against the directory (one HMGET per chunk)."""
    valid = [(result, record) for result, record in chunk if record is not None]
    if not valid:
        return
    key = directory._records  # see directory_records
    stored = await directory.redis.hmget(key, [record.id for _, record in valid])
    for (result, record), raw in zip(valid, stored, strict=True):
        if in_scope is not None and not in_scope(record):
            result.errors.append(f"kode_desa: desa {record.village_code} di luar wilayah akun Anda")
        if raw is None:
            result.status = Status.NEW
        else:
            before = PosyanduRecord.model_validate_json(raw)
            if in_scope is not None and not in_scope(before):
                result.errors.append(
                    f"id: Posyandu {record.id} sudah terdaftar di desa {before.village_code}, "
                    "di luar wilayah akun Anda"
                )
            same = as_text(raw) == record.model_dump_json()
            result.status = Status.UNCHANGED if same else Status.CHANGED
        if result.errors:
            result.status = Status.ERROR


async def _call(progress: Progress, done: int, total: int) -> None:
    outcome = progress(done, total)
    if inspect.isawaitable(outcome):
        await outcome


# --- writing files ---------------------------------------------------------------------------


def _start_sheet(sheet: Any, columns: list[str], widths: Mapping[str, int]) -> None:
    sheet.freeze_panes = "A2"
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = widths.get(column, 16)
    bold = Font(bold=True)
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=column)
        cell.font = bold
        header.append(cell)
    sheet.append(header)


def _help_sheet(book: Any, lines: list[tuple[str, str]]) -> None:
    sheet = book.create_sheet("Petunjuk")
    sheet.column_dimensions["A"].width = 22
    sheet.column_dimensions["B"].width = 100
    sheet.append(["kolom", "cara mengisi"])
    for column, text in lines:
        sheet.append([_neutral(column), _neutral(text)])


def _saved(book: Any) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _csv_bytes(columns: list[str], rows: Iterable[list[Cell]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    return buffer.getvalue().encode("utf-8-sig")
