"""A line diff of two FAQ entries, for the version history.

The lines are plain text; the template escapes them (jinja2 autoescape).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

from actions.content import FaqEntry

__all__ = ["DiffLine", "diff_entries", "entry_lines"]

Kind = Literal["same", "added", "removed"]


@dataclass(frozen=True)
class DiffLine:
    kind: Kind
    text: str

    @property
    def mark(self) -> str:
        return {"same": " ", "added": "+", "removed": "-"}[self.kind]


def entry_lines(entry: FaqEntry) -> list[str]:
    """An entry as labelled lines, in the order the editor shows its fields."""
    lines = [f"Judul: {entry.title}", *entry.answer.splitlines()]
    lines += [
        f"Sumber: {s.title} ({s.issuer}, {s.year}) {s.url or ''}".rstrip() for s in entry.sources
    ]
    lines.append(f"Tanggal review: {entry.reviewed.isoformat()}")
    lines.append(f"Topik terkait: {', '.join(entry.related) or '-'}")
    return lines


def diff_entries(old: FaqEntry, new: FaqEntry) -> list[DiffLine]:
    before, after = entry_lines(old), entry_lines(new)
    out: list[DiffLine] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            out += [DiffLine("same", line) for line in before[i1:i2]]
            continue
        out += [DiffLine("removed", line) for line in before[i1:i2]]
        out += [DiffLine("added", line) for line in after[j1:j2]]
    return out
