"""Every sentence a parent reads from the immunization calculator, in one catalogue.

The medical wording (catch-up advice, notes per dose) lives in the reviewed schedule file.
"""

from __future__ import annotations

from typing import Final

__all__ = ["MONTHS_ID", "TEXT"]

MONTHS_ID: Final = (
    "Januari", "Februari", "Maret", "April", "Mei", "Juni",
    "Juli", "Agustus", "September", "Oktober", "November", "Desember",
)  # fmt: skip

# Everything a parent reads, in one place (the medical wording lives in the schedule file).
TEXT: Final = {
    "header": "Imunisasi anak umur {age}:",
    "header_newborn": "Imunisasi bayi baru lahir:",
    "due": "• Waktunya sekarang: {doses}.",
    "overdue": "• Seharusnya sudah (kalau belum, bisa dikejar): {doses}.",
    "expired": "• Lewat batas umur (tanyakan petugas): {doses}.",
    "next": "• Berikutnya: {doses}, sekitar {date} (umur {age}).",
    "complete": (
        "Imunisasi rutin sampai umur 2 tahun sudah lengkap. Terima kasih sudah menjaga si kecil!"
    ),
    "up_to_date": "Imunisasinya sudah sesuai jadwal. Terima kasih sudah menjaga si kecil!",
    "catch_up_more": 'Info: ketik "imunisasi kejar".',
    "tell_done": 'Kalau ada yang sudah didapat, balas misalnya "sudah BCG dan polio 1".',
    "region_unknown": "{note} Tanyakan Puskesmas.",
    "confirm": "Pastikan di Posyandu/Puskesmas dan cocokkan dengan Buku KIA.",
    "source": "Sumber: {citation}.",
    "deadline": "{doses} (paling lambat {date})",
    "reject_future": (
        "Tanggal lahir {date} belum lewat. Mohon cek lagi, misalnya: lahir 3 Maret 2025."
    ),
    "reject_too_old": (
        "Jadwal ini untuk anak sampai umur 6 tahun. Untuk anak yang lebih besar, tanyakan "
        "imunisasi anak sekolah (BIAS) di Puskesmas."
    ),
    "reject_bad_date": "Tanggal {text} tidak ada di kalender. Mohon cek lagi tanggal lahirnya.",
}
