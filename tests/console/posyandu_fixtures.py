"""Two Posyandu in two kecamatan of Buton Utara (WITA), their officers and a cadre."""

from __future__ import annotations

import pytest

from actions.posyandu.directory import Directory
from actions.posyandu.records import PosyanduRecord
from tests.console.conftest import ConsoleSite

# Kec. Kulisusu (74.10.01) and Kec. Kambowa (74.10.02).
TERATAI = PosyanduRecord(
    id="PYA1",
    name="Posyandu Teratai I",
    village_code="74.10.01.1008",
    address="Balai Dusun I",
    lat=-4.761078,
    lon=123.157254,
    cadre_contact="Ibu Sari",
    schedule="setiap tanggal 10, 08.00-11.00",
)
MAWAR = PosyanduRecord(
    id="PYB1",
    name="Posyandu Mawar Bubu",
    village_code="74.10.02.2001",
    address="Balai Desa Bubu",
    lat=-4.929287,
    lon=122.926403,
    schedule="Selasa kedua setiap bulan, 08.00-11.00",
)


@pytest.fixture
async def area(site: ConsoleSite) -> Directory:
    directory = Directory(site.redis, site.prefix)
    await directory.upsert([TERATAI, MAWAR])
    await site.account("kulisusu", "puskesmas", ("74.10.01",))
    await site.account("kambowa", "puskesmas", ("74.10.02",))
    await site.account("kader.teratai", "kader", ("PYA1",))
    await site.account("kader.mawar", "kader", ("PYB1",))
    return directory
