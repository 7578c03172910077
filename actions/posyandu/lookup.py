"""Find villages named in free text, with a fuzzy fallback for typos.

"posyandu di desa lambalee kapan?" -> Lambale (two of them: Kabaena Timur and
Kulisusu Barat); "kulisusu utra" -> Kecamatan Kulisusu Utara. Names are compared
by `name_key` (lowercase, no spaces or prefixes), so "Mekar Sari" and "mekarsari"
are the same name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from rapidfuzz import fuzz, process

from actions.posyandu.regions import Region, Regions, name_key

__all__ = ["PlaceQuery", "VillageFinder"]

FUZZY_CUTOFF = 85.0
_WORD = re.compile(r"[a-z0-9']+")
# Words that never start a place name in these questions.
_STOP = frozenset(
    [
        "posyandu",
        "posy",
        "jadwal",
        "kapan",
        "dimana",
        "di",
        "mana",
        "yang",
        "yg",
        "ada",
        "buka",
        "tanggal",
        "tgl",
        "bulan",
        "ini",
        "desa",
        "kelurahan",
        "kel",
        "kampung",
        "kecamatan",
        "kec",
        "kabupaten",
        "kab",
        "kota",
        "saya",
        "sy",
        "aku",
        "ke",
        "dan",
        "atau",
        "untuk",
        "utk",
        "jam",
        "berapa",
        "brp",
        "hari",
        "apa",
        "minggu",
        "besok",
        "lusa",
        "tolong",
        "info",
        "min",
        "kak",
    ]
)


@dataclass(frozen=True)
class PlaceQuery:
    """Place names given by Rasa's entities (any may be empty) and the raw text."""

    text: str
    village: str = ""
    district: str = ""
    regency: str = ""


class VillageFinder:
    def __init__(self, regions: Regions) -> None:
        self.regions = regions

    @cached_property
    def _village_keys(self) -> list[str]:
        return list(self.regions.villages_by_key)

    @cached_property
    def _area_keys(self) -> list[str]:
        return list(self.regions.areas_by_key)

    def find(self, query: PlaceQuery) -> list[Region]:
        """Villages that match the query, narrowed by district/regency when named."""
        villages = self._villages(query)
        areas = self._areas(query)
        if areas:
            narrowed = [v for v in villages if any(v.code.startswith(a.code + ".") for a in areas)]
            if narrowed:
                return narrowed
            if not villages:
                return []
        return villages

    def areas(self, name: str) -> list[Region]:
        key = name_key(name)
        exact = self.regions.areas_by_key.get(key)
        if exact:
            return exact
        match = process.extractOne(
            key, self._area_keys, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF
        )
        return self.regions.areas_by_key[match[0]] if match else []

    def _areas(self, query: PlaceQuery) -> list[Region]:
        found: list[Region] = []
        for name in (query.district, query.regency):
            if name:
                found.extend(self.areas(name))
        if not found:
            for phrase in _after_marker(
                query.text, ("kecamatan", "kec", "kabupaten", "kab", "kota")
            ):
                found.extend(self.areas(phrase))
                if found:
                    break
        return found

    def areas_in_text(self, text: str) -> list[Region]:
        """Districts or regencies named anywhere in the text, typos allowed in longer names."""
        found = self._areas(PlaceQuery(text))
        if found:
            return found
        for chunk in _chunks(text):
            fuzzy = len(chunk.split()) > 1
            key = name_key(chunk)
            exact = self.regions.areas_by_key.get(key)
            if exact:
                return exact
            if fuzzy:
                match = process.extractOne(
                    key, self._area_keys, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF
                )
                if match:
                    return self.regions.areas_by_key[match[0]]
        return []

    def _villages(self, query: PlaceQuery) -> list[Region]:
        names = [query.village] if query.village else []
        names += _after_marker(query.text, ("desa", "kelurahan", "kel", "kampung", "dusun", "di"))
        for name in names:
            found = self._village_named(name, fuzzy=True)
            if found:
                return found
        # No marker word: try each run of 1-3 words outside any named kecamatan/kabupaten,
        # exact names only (fuzzy here is noise).
        for chunk in _chunks(_without_areas(query.text)):
            found = self._village_named(chunk, fuzzy=False)
            if found:
                return found
        return []

    def _village_named(self, name: str, fuzzy: bool) -> list[Region]:
        key = name_key(name)
        if len(key) < 3:
            return []
        exact = self.regions.villages_by_key.get(key)
        if exact or not fuzzy:
            return exact or []
        match = process.extractOne(
            key, self._village_keys, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF
        )
        return self.regions.villages_by_key[match[0]] if match else []


def _chunks(text: str) -> list[str]:
    """Runs of three, then two, then one word that neither start nor end with a stop word."""
    words = _WORD.findall(text.lower())
    chunks = []
    for size in (3, 2, 1):
        for start in range(len(words) - size + 1):
            chunk = words[start : start + size]
            if chunk[0] not in _STOP and chunk[-1] not in _STOP:
                chunks.append(" ".join(chunk))
    return chunks


_AREA_MARKERS = ("kecamatan", "kec", "kabupaten", "kab", "kota")


def _without_areas(text: str) -> str:
    """The text without "kec X Y" / "kabupaten X" phrases (their words are not villages)."""
    words = _WORD.findall(text.lower())
    kept, skipping = [], 0
    for word in words:
        if word in _AREA_MARKERS:
            skipping = 3
            continue
        if skipping and word not in _STOP:
            skipping -= 1
            continue
        skipping = 0
        kept.append(word)
    return " ".join(kept)


def _after_marker(text: str, markers: tuple[str, ...]) -> list[str]:
    """The one to three words after a marker ("desa lambale kec kulisusu" -> "lambale")."""
    words = _WORD.findall(text.lower())
    phrases = []
    for index, word in enumerate(words):
        if word in markers:
            following = []
            for next_word in words[index + 1 : index + 4]:
                if next_word in _STOP:
                    break
                following.append(next_word)
            for size in range(len(following), 0, -1):
                phrases.append(" ".join(following[:size]))
    return phrases
