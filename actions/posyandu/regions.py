"""Indonesia's regions (Kemendagri codes) from data/wilayah/, with time zones."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

__all__ = ["Region", "Regions", "name_key", "time_zone_of"]

WILAYAH = Path(__file__).resolve().parents[2] / "data" / "wilayah"

# Province code -> time zone (Permendagri/Keppres 41/1987 zones by province).
_WITA_PROVINCES = {"51", "52", "53", "63", "64", "65", "71", "72", "73", "74", "75", "76"}
_WIT_PROVINCES = {"81", "82", "91", "92", "93", "94", "95", "96"}
_PREFIXES = re.compile(
    r"^(?:desa|kelurahan|kel|kampung|kecamatan|kec|kabupaten|kab|kota|distrik|nagari|gampong)\.?\s+"
)


# A kecamatan code, or a desa code (whose first 8 characters are its kecamatan's).
_KECAMATAN_OR_DESA = re.compile(r"^\d{2}\.\d{2}\.\d{2}(?:\.\d{4})?$")


def kecamatan_of(code: str | None) -> str | None:
    """The kecamatan code of a kecamatan or desa code ("74.10.05"); None for anything else."""
    if not code or not _KECAMATAN_OR_DESA.match(code):
        return None
    return code[:8]


def time_zone_of(code: str) -> str:
    """WIB, WITA or WIT for any region code (by its province)."""
    province = code[:2]
    if province in _WIT_PROVINCES:
        return "WIT"
    if province in _WITA_PROVINCES:
        return "WITA"
    return "WIB"


def name_key(name: str) -> str:
    """Comparable form of a place name: lowercase letters and digits, no prefix, no spaces."""
    lowered = _PREFIXES.sub("", " ".join(name.lower().split()))
    return re.sub(r"[^0-9a-z]", "", lowered)


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    level: str  # province / regency / district / village
    lat: float | None = None
    lon: float | None = None
    kind: str = ""  # desa / kelurahan / desa_adat for villages

    @property
    def parent_code(self) -> str:
        return self.code.rsplit(".", 1)[0]


class Regions:
    """All regions in memory (about 92,000 rows, a few MB), looked up by code or name."""

    def __init__(self, folder: Path = WILAYAH) -> None:
        self.by_code: dict[str, Region] = {}
        for row in _rows(folder / "provinces.csv"):
            self._add(Region(row["code"], row["name"], "province"))
        for row in _rows(folder / "regencies.csv"):
            self._add(Region(row["code"], row["name"], "regency"))
        for row in _rows(folder / "districts.csv"):
            self._add(Region(row["code"], row["name"], "district", *_coords(row)))
        for row in _rows(folder / "villages.csv"):
            self._add(Region(row["code"], row["name"], "village", *_coords(row), kind=row["type"]))

    def _add(self, region: Region) -> None:
        self.by_code[region.code] = region

    @cached_property
    def villages_by_key(self) -> dict[str, list[Region]]:
        index: dict[str, list[Region]] = defaultdict(list)
        for region in self.by_code.values():
            if region.level == "village":
                index[name_key(region.name)].append(region)
        return dict(index)

    @cached_property
    def areas_by_key(self) -> dict[str, list[Region]]:
        """Districts and regencies ("kulisusu", "butonutara") by name key."""
        index: dict[str, list[Region]] = defaultdict(list)
        for region in self.by_code.values():
            if region.level in ("district", "regency"):
                index[name_key(region.name)].append(region)
        return dict(index)

    def get(self, code: str) -> Region | None:
        return self.by_code.get(code)

    def villages_of(self, code: str) -> list[Region]:
        prefix = code + "."
        return [
            r for r in self.by_code.values() if r.level == "village" and r.code.startswith(prefix)
        ]

    def path(self, village: Region) -> str:
        """ "Lambale, Kec. Kulisusu Utara, Kabupaten Buton Utara"."""
        district = self.by_code.get(village.code[:8])
        regency = self.by_code.get(village.code[:5])
        parts = [village.name]
        if district:
            parts.append(f"Kec. {district.name}")
        if regency:
            parts.append(regency.name)
        return ", ".join(parts)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _coords(row: dict[str, str]) -> tuple[float | None, float | None]:
    if not row.get("lat") or not row.get("lon"):
        return None, None
    return float(row["lat"]), float(row["lon"])
