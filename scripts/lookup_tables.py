"""Write data/nlu/lookup_wilayah.yml: Rasa lookup tables of kecamatan and kabupaten/kota
names from data/wilayah, which the RegexFeaturizer turns into features for the
`kecamatan` and `kabupaten` entities. (Village names, 62,000 distinct, are left to
DIET and the fuzzy finder in actions/posyandu/lookup.py.)

    python -m scripts.lookup_tables            # rewrite the file
    python -m scripts.lookup_tables --check    # exit 1 if it is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

from actions.posyandu.regions import Regions

TARGET = Path(__file__).resolve().parent.parent / "data" / "nlu" / "lookup_wilayah.yml"
PREFIXES = ("Kabupaten ", "Kota ", "Kota Administrasi ")


def render(regions: Regions) -> str:
    districts = sorted({r.name.lower() for r in regions.by_code.values() if r.level == "district"})
    regencies = set()
    for region in regions.by_code.values():
        if region.level == "regency":
            name = region.name
            for prefix in sorted(PREFIXES, key=len, reverse=True):
                name = name.removeprefix(prefix)
            regencies.add(name.lower())
    lines = [
        "# Generated from data/wilayah by `python -m scripts.lookup_tables`; do not edit.",
        'version: "3.1"',
        "nlu:",
        "- lookup: kecamatan",
        "  examples: |",
        *[f"    - {name}" for name in districts],
        "- lookup: kabupaten",
        "  examples: |",
        *[f"    - {name}" for name in sorted(regencies)],
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    text = render(Regions())
    if "--check" in sys.argv:
        return 0 if TARGET.read_text(encoding="utf-8") == text else 1
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
