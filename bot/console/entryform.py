"""The editor's form: an FAQ entry from posted fields, with errors in Indonesian.

FaqEntry (actions/content.py) is the judge; this module only turns form fields
into its input and its complaints into sentences an editor understands.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, get_args

from pydantic import ValidationError

from actions.content import MAX_ANSWER_CHARS, FaqEntry, Issuer

__all__ = ["ISSUERS", "MAX_RELATED", "SOURCE_ROWS", "EntryForm", "parse_entry"]

ISSUERS: tuple[str, ...] = get_args(Issuer)
SOURCE_ROWS = 4  # source rows shown in the form; empty rows are ignored
MAX_RELATED = 3

_LABELS = {
    "title": "Judul",
    "answer": "Jawaban",
    "sources": "Sumber",
    "reviewed": "Tanggal review",
    "related": "Topik terkait",
    "notes": "Catatan",
}
_MESSAGES = {
    ("title", "string_too_short"): "Judul minimal 3 karakter.",
    ("title", "string_too_long"): "Judul maksimal 40 karakter (tombol di chat jadi terpotong).",
    ("answer", "string_too_short"): "Jawaban minimal 40 karakter.",
    ("answer", "string_too_long"): f"Jawaban maksimal {MAX_ANSWER_CHARS} karakter.",
    ("sources", "too_short"): "Isi minimal satu sumber (judul, penerbit, tahun).",
    ("reviewed", "date_from_datetime_parsing"): "Tanggal review belum benar.",
    ("reviewed", "date_parsing"): "Tanggal review belum benar.",
    ("reviewed", "date_type"): "Isi tanggal review.",
}


@dataclass
class EntryForm:
    """What the editor typed (shown again on errors) and what is wrong with it."""

    values: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    entry: FaqEntry | None = None


def form_values(entry: FaqEntry) -> dict[str, Any]:
    """The form's fields for an existing entry."""
    return {
        "title": entry.title,
        "answer": entry.answer,
        "sources": [s.model_dump() for s in entry.sources],
        "reviewed": entry.reviewed.isoformat(),
        "related": list(entry.related),
        "notes": entry.notes or "",
    }


def parse_entry(topic: str, form: Mapping[str, str], topics: set[str], today: dt.date) -> EntryForm:
    """Validate a posted editor form for `topic`; `topics` are the published topic ids."""
    sources = []
    for row in range(SOURCE_ROWS):
        source = {
            k: form.get(f"source-{row}-{k}", "").strip() for k in ("title", "issuer", "year", "url")
        }
        if source["title"] or source["year"] or source["url"]:
            sources.append(source)
    related = [form.get(f"related-{i}", "").strip() for i in range(MAX_RELATED)]
    values: dict[str, Any] = {
        "title": form.get("title", "").strip(),
        "answer": form.get("answer", "").replace("\r\n", "\n").strip(),
        "sources": sources,
        "reviewed": form.get("reviewed", "").strip(),
        "related": list(dict.fromkeys(r for r in related if r)),
        "notes": form.get("notes", "").strip(),
    }
    result = EntryForm(values)
    unknown = [r for r in values["related"] if r not in topics or r == topic]
    if unknown:
        result.errors["related"] = "Topik terkait tidak dikenal: " + ", ".join(unknown)
    with contextlib.suppress(ValueError):  # a malformed date: FaqEntry says so below
        if dt.date.fromisoformat(values["reviewed"]) > today:
            result.errors["reviewed"] = "Tanggal review tidak boleh di masa depan."
    try:
        entry = FaqEntry.model_validate(
            {
                "id": topic,
                **values,
                "sources": [{**s, "url": s["url"] or None} for s in sources],
                "reviewed": values["reviewed"] or None,
                "notes": values["notes"] or None,
            }
        )
    except ValidationError as error:
        for problem in error.errors():
            where = [str(part) for part in problem["loc"]]
            result.errors.setdefault(where[0], _message(where, problem["type"]))
        return result
    if not result.errors:
        result.entry = entry
    return result


def _message(where: list[str], kind: str) -> str:
    name = where[0]
    if name == "sources" and len(where) >= 3:
        row, part = int(where[1]) + 1, where[2]
        detail = {
            "title": "judul minimal 3 karakter",
            "issuer": "pilih penerbit dari daftar",
            "year": "tahun 1990 sampai 2100",
        }.get(part, "isian belum benar")
        return f"Sumber ke-{row}: {detail}."
    return _MESSAGES.get((name, kind), f"{_LABELS.get(name, name)}: isian belum benar.")
