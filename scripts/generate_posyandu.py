"""Generate Posyandu records for the real villages of a region (demo and benchmark data).

    python -m scripts.generate_posyandu --region 74.10 --out data/posyandu/buton_utara.csv
    python -m scripts.generate_posyandu --national --out build/posyandu/national.csv

Names, addresses, cadres and schedules are invented but plausible; villages and
their coordinates are real (data/wilayah). Each village gets one to four
Posyandu a short way from its centroid (or its district's, where the village has
none), with schedules in both rule styles. No phone numbers are invented: a made
up number could be a real person's.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
from pathlib import Path

from actions.posyandu.records import COLUMNS
from actions.posyandu.regions import Region, Regions

FLOWERS = [
    "Mawar", "Melati", "Anggrek", "Kenanga", "Dahlia", "Cempaka", "Flamboyan", "Teratai",
    "Bougenville", "Seroja", "Kamboja", "Nusa Indah", "Asoka", "Tunas Harapan", "Sejahtera",
    "Harapan Bunda", "Kasih Ibu", "Bina Sehat", "Permata", "Lestari",
]  # fmt: skip
PLACES = [
    "Balai Desa {v}",
    "Polindes {v}",
    "Pustu {v}",
    "Rumah Kader, Dusun {d}",
    "Balai Dusun {d}",
]
CADRES = ["Wa Ode Sitti", "Hasnawati", "Nurmiati", "Sitti Rahma", "Marlina", "Jumriati",
          "Rosmiati", "Halija", "Nurhayati", "Sumarni", "Wa Ode Nurlia", "Hasriani"]  # fmt: skip
WEEKDAYS = ["Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu"]
ORDINALS = ["pertama", "kedua", "ketiga", "keempat"]
HOURS = ["08.00-11.00", "08.30-11.30", "09.00-12.00", "08.00-10.30"]
ROMAN = ["I", "II", "III", "IV", "V"]


def schedule(rng: random.Random) -> str:
    hours = rng.choice(HOURS)
    if rng.random() < 0.5:
        return f"setiap tanggal {rng.randint(1, 28)}, {hours}"
    return f"{rng.choice(WEEKDAYS)} {rng.choice(ORDINALS)} setiap bulan, {hours}"


def jitter(rng: random.Random, lat: float, lon: float, km: float = 1.5) -> tuple[float, float]:
    distance, angle = rng.uniform(0.05, km), rng.uniform(0, 2 * math.pi)
    dlat = distance / 111.0 * math.sin(angle)
    dlon = distance / (111.0 * max(0.2, math.cos(math.radians(lat)))) * math.cos(angle)
    return round(lat + dlat, 6), round(lon + dlon, 6)


def rows_for(village: Region, regions: Regions, rng: random.Random, count: int) -> list[list[str]]:
    anchor = village if village.lat is not None else regions.get(village.code[:8])
    if anchor is None or anchor.lat is None or anchor.lon is None:
        return []
    rows = []
    for number in range(1, count + 1):
        lat, lon = jitter(rng, anchor.lat, anchor.lon)
        place = rng.choice(PLACES).format(v=village.name, d=rng.choice(ROMAN))
        cadre = f"Ibu {rng.choice(CADRES)}" if rng.random() < 0.7 else ""
        name = f"Posyandu {rng.choice(FLOWERS)} {ROMAN[number - 1]}"
        code = village.code.replace(".", "")
        row = [f"PY{code}{number}", name, village.code, place, str(lat), str(lon), cadre]
        rows.append([*row, schedule(rng)])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--region", help="a province, regency or district code, e.g. 74.10")
    parser.add_argument(
        "--national", action="store_true", help="every village (about 300,000 Posyandu)"
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=7410)
    args = parser.parse_args()
    regions = Regions()
    villages = [r for r in regions.by_code.values() if r.level == "village"]
    if not args.national:
        villages = [v for v in villages if v.code.startswith(f"{args.region}.")]
    rng = random.Random(args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with args.out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for village in sorted(villages, key=lambda v: v.code):
            # Demo: 1-4 per village. National: 1-5, about 3.4 on average (~290,000 in all).
            if args.national:
                count = rng.choices([1, 2, 3, 4, 5], weights=[1, 2, 3, 3, 3])[0]
            else:
                count = rng.randint(1, 4)
            for row in rows_for(village, regions, rng, count):
                writer.writerow(row)
                written += 1
    print(f"{written} Posyandu for {len(villages)} villages written to {args.out}")


if __name__ == "__main__":
    main()
