"""Danger-sign rules (nlu/data/emergency.yml): real wording fires, near misses do not."""

import pytest

from nlu.emergency import EmergencyRules, Match, sentences
from nlu.normalize import SlangDictionary, normalize


@pytest.fixture(scope="module")
def rules() -> EmergencyRules:
    return EmergencyRules.load()


@pytest.fixture(scope="module")
def dictionary() -> SlangDictionary:
    return SlangDictionary.load()


def found(rules: EmergencyRules, dictionary: SlangDictionary, text: str) -> Match | None:
    return rules.match(normalize(text, dictionary).text, text.lower())


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        # bleeding in pregnancy and after birth
        ("istri sy hamil 7 bln keluar darah banyak", "perdarahan_kehamilan"),
        ("bumil pendarahan tolong", "perdarahan_kehamilan"),
        ("hamil muda darah yg keluar menggumpal", "perdarahan_kehamilan"),
        ("hamil 7 minggu keluar flek coklat dan perut kram, normal ga?", "flek_kehamilan"),
        ("Saya hamil 9 minggu. Dari kemarin ada bercak darah. Apakah berbahaya?", "flek_kehamilan"),
        ("usia kandungan 20 mgg, ada flek dikit2 dan perut kenceng2", "flek_kehamilan"),
        ("2 jam sekali ganti pembalut krn penuh, baru lahiran 3 hari", "perdarahan_nifas"),
        ("abis melahirkan darahnya merah segar banyak bgt", "perdarahan_kehamilan"),
        ("seminggu setelah melahirkan darahnya masih ngucur deras", "perdarahan_kehamilan"),
        ("habis persalinan kemarin darah nifas keluar banyak sekali", "perdarahan_kehamilan"),
        ("ketuban pecah padahal baru 8 bulan", "ketuban_pecah"),
        ("hamil 36 minggu air ketuban keluar sedikit sedikit dari tadi", "ketuban_pecah"),
        ("hamil 33 minggu, dari tadi keluar air bening terus kayak ngompol", "cairan_ketuban"),
        ("aku 28 mgg, ada bercak darah dan perut kram", "flek_kehamilan"),
        ("4 hari abis sesar, demam 39 dan darahnya bau busuk", "nifas_infeksi"),
        ("istri hamil 8 bln darahnya keluar terus", "perdarahan_kehamilan"),
        ("hamil 39 minggu gak kerasa dedek gerak sejak semalam", "janin_tidak_bergerak"),
        ("hpl besok, dari pagi aku ga merasakan tendangannya sama sekali", "janin_tidak_bergerak"),
        ("hamil 36 minggu dari pagi dedek ga nendang2 sama sekali", "janin_tidak_bergerak"),
        ("hpl minggu depan, gerakan janin berkurang sejak kemarin", "janin_tidak_bergerak"),
        ("hamil 6 bulan sakit kepala hebat pandangan kabur", "preeklampsia"),
        ("3 hari setelah sesar demam tinggi menggigil", "nifas_infeksi"),
        # seizures, breathing, consciousness, just happened, third person
        ("anak saya kejang2 dari tadi", "kejang"),
        ("barusan anak sy kejang, skrg tidur", "kejang"),
        ("ANAK SAYA KEJANG, imunisasi apa ya?", "kejang"),
        ("anakku step panas tinggi", "kejang"),
        ("bayi gak napas", "tidak_bernapas"),
        ("bibir anak biru bgt", "membiru"),
        ("bapak tiba2 pingsan", "tidak_sadar"),
        ("tadi ibu pingsan di kamar mandi, skrg udah sadar", "tidak_sadar"),
        ("nenek susah dibangunkan dari tadi siang", "tidak_sadar"),
        # children
        ("anak dbd muntah terus dan mimisan", "dbd_tanda_bahaya"),
        ("adik kena db, mimisan dan muntah item", "dbd_tanda_bahaya"),
        ("cucu mencret 8x, matanya cekung", "dehidrasi_berat"),
        ("bayi diare, nangis ga keluar air mata", "dehidrasi_berat"),
        ("dulu pernah kejang waktu kecil, barusan kejang lagi", "kejang"),
        ("diare dari pagi skrg lemes bgt gak mau minum", "dehidrasi_berat"),
        ("bayi 5 bulan mencret terus, sekarang lemas dan tidur terus", "dehidrasi_berat"),
        ("Anak saya diare sejak kemarin. Sekarang dia lesu sekali.", "dehidrasi_berat"),
        ("bayi baru lahir ga mau nyusu sama sekali", "bayi_baru_lahir"),
        # self-harm and suicide, in code-mixed and third-person wording
        ("aku pengen bunuh diri aja", "bunuh_diri"),
        ("rasanya pengen mati aja", "bunuh_diri"),
        ("mau mati aja capek", "bunuh_diri"),
        ("capek hidup, gak ada yang peduli", "bunuh_diri"),
        ("aku udah ga kuat hidup lagi", "bunuh_diri"),
        ("kepikiran mengakhiri hidup terus", "bunuh_diri"),
        ("pengen self harm lagi", "bunuh_diri"),
        ("udah 3 hari ini aku self-harm", "bunuh_diri"),
        ("i feel suicidal tonight", "bunuh_diri"),
        ("kemarin aku suicide attempt tapi gagal", "bunuh_diri"),
        ("aku cutting lagi semalam", "bunuh_diri"),
        ("teman saya baru saja menyayat tangannya pakai silet", "bunuh_diri"),
        ("adik sy sengaja minum obat tidur sebotol", "bunuh_diri"),
        ("i want to die", "bunuh_diri"),
        ("hidup aku ga ada gunanya", "bunuh_diri"),
        # adults
        ("mulut bapak mencong ngomongnya pelo", "stroke"),
        ("tangan kiri kakek tiba2 lemas sebelah", "stroke"),
        ("dada sakit banget kayak ditindih", "nyeri_dada"),
        ("anak kecil minum baygon", "keracunan"),
        ("anakku nelen minyak tanah", "keracunan"),
        ("anak sy ketelen koin barusan", "keracunan"),
        ("adik kecebur sumur tadi", "cedera_berat"),
        ("i dont want to live anymore", "bunuh_diri"),
        ("bocah nenggak cairan pembersih lantai", "keracunan"),
        ("jari keiris golok dalem, darahnya ngucur terus", "cedera_berat"),
        ("barusan aku nelen 15 tablet obat tidur sekaligus", "bunuh_diri"),
        ("pengen tidur selamanya aja", "bunuh_diri"),
        ("mending aku gak ada, semua lebih bahagia tanpa aku", "bunuh_diri"),
        ("temanku pamit aneh, aku takut dia ngapa2in diri", "bunuh_diri"),
        ("suami overdosis obat", "keracunan"),
        ("adik kesiram air panas di dapur", "cedera_berat"),
        ("anak sy main game di hp terus tiba2 kejang", "kejang"),
        ("karakter di hp? bukan, anak saya yg kejang barusan", "kejang"),
        # an overdose being prepared, feeling a burden, wanting to jump from a height
        ("malam ini aku udah nyiapin obat tidur buat diminum sekaligus", "bunuh_diri"),
        ("aku ngumpulin pil tidur dr sebulan lalu, rencananya mau kuminum semua", "bunuh_diri"),
        ("ngerasa cuma jadi beban buat keluarga", "bunuh_diri"),
        ("sy lg di atas jembatan, pengen loncat", "bunuh_diri_tempat"),
        ("temenku berdiri di rooftop kantor bilang mau terjun", "bunuh_diri_tempat"),
        # regional words, signs told without their name, collapse, English wording
        ("bojoku lagi meteng 7 sasi, sirahe mumet lan pandangane burem", "preeklampsia"),
        ("istri sy ngandung 8 bulan, muka sama tangannya bengkak, pusing berat", "preeklampsia"),
        ("hamil 35 minggu, dari tadi pandangannya gelap", "preeklampsia"),
        ("anakku demam terus tiba2 badannya kaku dan gemetar", "kejang"),
        ("bayi panas tinggi, matanya mendelik dan mulutnya keluar busa", "kejang"),
        ("bapak tiba2 ambruk di sawah", "tidak_sadar"),
        ("mbah dipanggil2 gak nyaut, matanya merem terus", "tidak_sadar"),
        ("lelah banget sama hidup ini, pengen udahan", "bunuh_diri"),
        ("aku sudah ngumpulin obat-obatan, nanti malam mau kuminum semua", "bunuh_diri"),
        ("my friend slit her wrists, lots of blood", "bunuh_diri"),
        ("i cut my wrist again last night", "bunuh_diri"),
        ("temen kos gw OD obat tidur", "keracunan"),
        ("she is 30 weeks pregnant and has a severe headache, pandangannya kabur", "preeklampsia"),
        ("bini aye bunting 6 bulan, darahnya keluar terus dari tadi", "perdarahan_kehamilan"),
        ("ayah tiba2 ngomongnya gak jelas, tangan kanannya gak bisa digerakin", "stroke_bicara"),
        ("muko apak sabalah turun, bicaronyo ndak jaleh", "stroke"),
        ("dada kiri kayak diremas, nyerinya menjalar ke lengan", "nyeri_dada"),
        ("adik ketumpahan kuah panas, kulitnya melepuh luas", "cedera_berat"),
        ("kuli jatuh dr atap, kakinya gak bisa digerakin", "cedera_berat"),
        ("malam ini aku mau minum semua obat yang ada", "bunuh_diri"),
        ("pil tidur ibu sudah aku kumpulkan, nanti malam kuminum", "bunuh_diri"),
        ("i dont want to be alive anymore", "bunuh_diri"),
        ("kulo mboten kuat malih, kepingin mungkasi urip", "bunuh_diri"),
        ("dia pernah mencoba overdosis, sekarang nggak bisa dihubungi", "bunuh_diri"),
    ],
)
def test_danger_signs_are_caught(
    rules: EmergencyRules, dictionary: SlangDictionary, text: str, sign: str
) -> None:
    match = found(rules, dictionary, text)
    assert match is not None, text
    assert sign in match.signs


@pytest.mark.parametrize(
    "text",
    [
        # questions about danger signs, not a danger now
        "apa aja tanda bahaya kehamilan?",
        "gejala dbd apa aja",
        "cara mencegah demam berdarah",
        "flek saat hamil muda itu normal ga?",
        "darah nifas normalnya keluar berapa hari",
        "hamil 14 minggu kok belum terasa gerakan janin ya",
        "kapan janin mulai bergerak",
        "cara mencegah keracunan makanan",
        "cara mencegah bunuh diri pada remaja",
        "kalau gerakan janin berkurang itu termasuk tanda bahaya ga",
        "ketuban pecah dini tandanya seperti apa",
        "apa lagi tanda bahaya kehamilan selain pendarahan?",
        "dulu waktu kecil pernah kejang demam, sekarang sudah besar",
        "tahun lalu pernah pingsan waktu upacara",
        "takut bayi tersedak kalau mpasi kasar",
        "ciri2 ketuban pecah dini apa ya, cuma mau tau",
        "pengen belajar pertolongan pertama orang tersedak",
        "film tadi bikin dada sesak, sedih banget",
        "nonton drakor sampai mau pingsan saking sedihnya",
        "waktu melahirkan 3 tahun lalu sy pendarahan, mau hamil lagi persiapannya apa",
        "hamil 10 minggu sering pipis, normal?",
        "pengawas menelan obat tugasnya apa",
        "kalo ada kecelakaan nomor yg dihubungi apa",
        "lupa minum pil kb, perlu minum 2 pil sekaligus?",
        "obat tidur 2 tablet sekaligus boleh gk",
        "obat tidur sama vitamin boleh diminum sekaligus?",
        "minum obat maag dan antibiotik sekaligus boleh?",
        "takut jadi beban anak kalau sudah tua",
        "anak sy lomba lompat tali di lantai 2 sekolah",
        "mancing di pinggir sungai sambil ngopi",
        "anak2 pada loncat ke sungai buat renang pas 17an",
        "hutang cuma jadi beban pikiran",
        "bumil wajib minum 90 tablet tambah darah ya",
        "cara melindungi anak dari asap biar ga sesak",
        # blood words that are not bleeding
        "ibu hamil perlu minum tablet tambah darah berapa",
        "hamil 7 bulan tekanan darah 140, bahaya?",
        "gusi berdarah pas hamil normal ga",
        "flek hitam di wajah saat hamil hilang ga",
        # idioms and games
        "mati lampu lagi di kampung",
        "hp saya mati total",
        "ketawa sampai kejang-kejang nonton video itu",
        "ngakak sampe mau mati wkwk",
        "main dbd sampe lemes, killer nya op",
        "killer dbd paling susah siapa",
        "mabar dbd nanti malam, siapa mau",
        "semalem mabar game horor, karakterku kejang2 trs mati dimakan zombi",
        "avatar sy pingsan mulu di level 3",
        "lagu itu menyayat hati",
        "cara mpasi step by step",
        "berat bayi 3 koma 2 kilo",
        "admin ga respon dari tadi",
        "jalan ke posyandu sesak orang",
        "bajunya warna biru",
        "cuaca panas bikin lemas",
        # ordinary questions
        "jadwal imunisasi bayi lengkap",
        "lagi stres kerjaan gmn ngatasinnya",
        "harga bitcoin berapa",
        "nomor ambulans berapa",
        "cara atasi diare anak",
        "luka bakar ringan kena setrika diobati apa",
        # hypotheticals, absent signs, things that collapse, a life that is not in danger
        "kalau suatu saat ada tamu yg pingsan atau kejang di acara, kader harus ngapain",
        "tiap mens perut sakit sampe mau pingsan, wajar?",
        "hasil usg air ketuban sedikit, harus gimana",
        "kata bidan air ketuban saya agak kurang, perlu banyak minum?",
        "makanan apa yang bisa menambah air ketuban?",
        "anak demam 2 hari, belum ada mimisan atau muntah, masih mau makan",
        "atap posyandu ambruk kena angin, bisa pindah ke balai desa?",
        "harga cabai ambruk, petani rugi",
        "bosan sama pola hidup yang gitu2 aja, mau mulai olahraga",
        "capek kerja buat biaya hidup",
        "kaki bengkak pas hamil 8 bulan normal ga",
        "cara motong kuku bayi biar ga kena jari",
        "misal ketuban pecah pas di jalan, ke bidan atau rumah sakit?",
        "bayi diare sekali tadi pagi, mata gak cekung, gak lemes, masih nyusu",
        "habis imunisasi anak agak anget, gak kejang kok, cuma rewel",
        "rasanya mau pingsan lihat harga beras sekarang",
        "ngakak sampe sesek napas liat video kucing",
        "tokoh utamanya meninggal ketabrak mobil di episode terakhir",
        "anak 2 tahun ngomongnya belum jelas, normal ga?",
        "tb harus minum semua obat sampai habis ya?",
        "kalau tangan kesemutan pas bangun tidur kenapa ya",
    ],
)
def test_near_misses_do_not_fire(
    rules: EmergencyRules, dictionary: SlangDictionary, text: str
) -> None:
    assert found(rules, dictionary, text) is None, found(rules, dictionary, text)


def test_a_sign_in_the_middle_of_a_long_message_is_found(
    rules: EmergencyRules, dictionary: SlangDictionary
) -> None:
    story = "Selamat malam dok, saya mau tanya soal anak saya yang umur 2 tahun. " * 28
    text = story + "Tadi sore dia kejang sekitar 2 menit. " + story + "Terima kasih dok."
    assert len(text) <= 4096
    match = found(rules, dictionary, text)
    assert match is not None and match.sign == "kejang"


def test_words_of_unrelated_sentences_are_not_combined(
    rules: EmergencyRules, dictionary: SlangDictionary
) -> None:
    text = (
        "Anak saya kemarin demam sudah turun. Kami ke posyandu. Ibunya ikut senam. "
        "Saya sendiri jadi lemas karena kurang tidur."
    )
    assert found(rules, dictionary, text) is None


def test_self_harm_wins_and_asks_for_the_caring_reply(
    rules: EmergencyRules, dictionary: SlangDictionary
) -> None:
    match = found(rules, dictionary, "aku minum baygon biar mati aja")
    assert match is not None
    assert match.sign == "bunuh_diri" and match.reply == "jiwa"
    assert set(match.signs) >= {"bunuh_diri", "keracunan"}
    other = found(rules, dictionary, "anak saya kejang")
    assert other is not None and other.reply == "umum"


def test_sentences_split_typed_and_normalised_text() -> None:
    assert sentences("Halo dok. Anak saya demam!\nApa perlu ke RS?") == [
        "Halo dok",
        "Anak saya demam",
        "Apa perlu ke RS",
    ]
    assert sentences("halo dok . anak saya demam ? terima kasih") == [
        "halo dok",
        "anak saya demam",
        "terima kasih",
    ]


def test_first_match_names_the_sign(rules: EmergencyRules) -> None:
    assert rules.first_match("anak saya kejang") == "kejang"
    assert rules.first_match("mau bunuh diri") == "bunuh_diri"
    assert rules.first_match("jadwal posyandu") is None
