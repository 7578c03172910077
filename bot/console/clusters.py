"""FAQ topics by ILP cluster (Integrasi Layanan Primer), from the topic id's prefix.

The one place this mapping is written down. Klaster 2 serves mothers, babies,
children and adolescents; Klaster 3 adults and the elderly, including adult mental
health and non-communicable diseases; Klaster 4 communicable diseases and
environmental health; services for everyone (Posyandu, Puskesmas, emergencies,
free health checks) are cross-cluster.
"""

from __future__ import annotations

__all__ = ["CLUSTERS", "cluster_of"]

MOTHER_AND_CHILD = "Klaster 2: Ibu dan Anak"
ADULTS_AND_ELDERLY = "Klaster 3: Usia Dewasa dan Lansia"
COMMUNICABLE_DISEASES = "Klaster 4: Penanggulangan Penyakit Menular"
CROSS_CLUSTER = "Lintas Klaster"

CLUSTERS = (MOTHER_AND_CHILD, ADULTS_AND_ELDERLY, COMMUNICABLE_DISEASES, CROSS_CLUSTER)

_BY_PREFIX = {
    "kehamilan": MOTHER_AND_CHILD,
    "nifas": MOTHER_AND_CHILD,
    "bayi": MOTHER_AND_CHILD,
    "balita": MOTHER_AND_CHILD,
    "imunisasi": MOTHER_AND_CHILD,
    "gizi": MOTHER_AND_CHILD,
    "remaja": MOTHER_AND_CHILD,
    "lansia": ADULTS_AND_ELDERLY,
    "ptm": ADULTS_AND_ELDERLY,
    "jiwa": ADULTS_AND_ELDERLY,
    "dbd": COMMUNICABLE_DISEASES,
    "ispa": COMMUNICABLE_DISEASES,
    "tbc": COMMUNICABLE_DISEASES,
    "kebersihan": COMMUNICABLE_DISEASES,
    "layanan": CROSS_CLUSTER,
}


def cluster_of(topic: str) -> str:
    """The cluster of a topic id such as `imunisasi.jadwal`; new prefixes are cross-cluster."""
    return _BY_PREFIX.get(topic.split(".", 1)[0], CROSS_CLUSTER)
