import datetime as dt
from pathlib import Path

import pytest
import yaml

from actions.content import MAX_ANSWER_CHARS, ContentError, ContentStore, FaqEntry, load_entries

FAQ_DIR = Path(__file__).resolve().parents[2] / "data" / "faq"

GOOD = {
    "id": "kebersihan.cuci_tangan",
    "title": "Cuci tangan pakai sabun",
    "answer": "Cuci tangan pakai sabun dan air mengalir selama 20 detik, terutama sebelum makan.",
    "sources": [{"title": "Panduan CTPS", "issuer": "Kemenkes RI", "year": 2020}],
    "reviewed": "2026-11-01",
    "related": ["ispa.pencegahan"],
}
OTHER = {
    **GOOD,
    "id": "ispa.pencegahan",
    "title": "Cegah ISPA",
    "related": ["kebersihan.cuci_tangan"],
}


def write(folder: Path, *entries: dict[str, object]) -> Path:
    for entry in entries:
        (folder / f"{entry['id']}.yml").write_text(yaml.safe_dump(entry), encoding="utf-8")
    return folder


def test_shipped_content_is_valid() -> None:
    entries = load_entries(FAQ_DIR)
    assert entries, "data/faq must hold the FAQ entries"
    for entry in entries.values():
        assert len(entry.answer) <= MAX_ANSWER_CHARS
        assert entry.sources


def test_valid_folder_loads(tmp_path: Path) -> None:
    entries = load_entries(write(tmp_path, GOOD, OTHER), today=dt.date(2026, 11, 23))
    assert set(entries) == {"kebersihan.cuci_tangan", "ispa.pencegahan"}
    assert entries["ispa.pencegahan"].source_line() == "Sumber: Panduan CTPS (Kemenkes RI, 2020)"


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"answer": "x" * (MAX_ANSWER_CHARS + 1)}, "answer"),
        ({"sources": []}, "sources"),
        ({"sources": [{"title": "Blog", "issuer": "Someone", "year": 2020}]}, "issuer"),
        ({"related": ["tidak.ada"]}, "related topics not found: tidak.ada"),
        ({"reviewed": "2099-01-01"}, "in the future"),
        ({"id": "ispa.lain"}, "does not match the file name"),
    ],
)
def test_bad_content_is_refused_with_the_reason(
    tmp_path: Path, change: dict[str, object], complaint: str
) -> None:
    bad = {**GOOD, **change}
    (tmp_path / "kebersihan.cuci_tangan.yml").write_text(yaml.safe_dump(bad), encoding="utf-8")
    write(tmp_path, OTHER)
    with pytest.raises(ContentError, match=complaint):
        load_entries(tmp_path, today=dt.date(2026, 11, 23))


async def test_published_content_is_read_back_and_edits_take_effect(
    redis: object, redis_prefix: str
) -> None:
    store = ContentStore(redis, redis_prefix)  # type: ignore[arg-type]
    entry = FaqEntry.model_validate(GOOD)
    await store.publish({entry.id: entry, "ispa.pencegahan": FaqEntry.model_validate(OTHER)})
    assert (await store.get(entry.id)) == entry
    edited = entry.model_copy(update={"answer": entry.answer + " Ajak seluruh keluarga."})
    await store.put(edited)
    assert (await store.get(entry.id)).answer.endswith("Ajak seluruh keluarga.")  # type: ignore[union-attr]
    assert await store.titles(["ispa.pencegahan", "tidak.ada"]) == {"ispa.pencegahan": "Cegah ISPA"}


async def test_publish_replaces_the_whole_set(redis: object, redis_prefix: str) -> None:
    store = ContentStore(redis, redis_prefix)  # type: ignore[arg-type]
    first, second = FaqEntry.model_validate(GOOD), FaqEntry.model_validate(OTHER)
    await store.publish({first.id: first, second.id: second})
    await store.publish({second.id: second})
    assert await store.topic_ids() == {second.id}
    assert await store.get(first.id) is None
