"""The immunization calculator against the shipped schedule file, and its parsers.

Pure: no Redis, no Rasa. The sweep walks every day from birth to 24 months and checks
what a parent would notice (nothing offered too early, every dose in exactly one place,
no next date in the past, catch-up advice whenever something is late).
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from actions.immunization import (
    MAX_REPLY_CHARS,
    SCHEDULE_FILE,
    ImmunizationPlan,
    Schedule,
    ScheduleError,
    age_in_days,
    dose_due_dates,
    load_schedule,
    parse_age,
    parse_done,
    plan,
    reply_text,
    schedule_from_data,
)
from actions.immunization.__main__ import main
from actions.immunization.dates import add_months
from actions.immunization.texts import MONTHS_ID

TODAY = dt.date(2026, 12, 3)
SCHEDULE = load_schedule(SCHEDULE_FILE, today=TODAY)
RAW: dict[str, Any] = yaml.safe_load(SCHEDULE_FILE.read_text(encoding="utf-8"))
ALL_IDS = {dose.id for dose in SCHEDULE.doses}
BALI, JAKARTA = "51", "31"
PROVINCES = (None, BALI, JAKARTA)


def make_plan(
    age_days: int,
    done: set[str] | frozenset[str] = frozenset(),
    province: str | None = None,
    today: dt.date = TODAY,
) -> ImmunizationPlan:
    return plan(age_days, set(done), province, today, schedule=SCHEDULE)


def months_old(months: int, plus_days: int = 0, today: dt.date = TODAY) -> int:
    return (today - add_months(today, -months)).days + plus_days


def ids(statuses: Any) -> set[str]:
    return {status.dose.id for status in statuses}


def applicable(province: str | None) -> set[str]:
    return {dose.id for dose in SCHEDULE.doses if dose.applies_in(province)}


def given_on_time(age_days: int, province: str | None, today: dt.date = TODAY) -> set[str]:
    """A family that never missed a dose: everything scheduled before today is done."""
    birth = today - dt.timedelta(days=age_days)
    return {
        dose.id
        for dose in SCHEDULE.doses
        if dose.applies_in(province) and dose.age.after(birth) < today
    }


def check_invariants(found: ImmunizationPlan, done: set[str], province: str | None) -> None:
    birth, today = found.birth_date, found.today
    lists = {
        "done": set(found.done),
        "due": ids(found.due),
        "overdue": ids(found.overdue),
        "upcoming": ids(found.upcoming),
        "expired": ids(found.expired),
    }
    # Every dose that applies here is in exactly one place; other regions' doses in none.
    placed = [dose_id for group in lists.values() for dose_id in group]
    assert len(placed) == len(set(placed)), lists
    assert set(placed) == applicable(province)
    assert not (done & (set(placed) - lists["done"]))
    assert all(s.dose.applies_in(province) is None for s in found.region_unknown)
    for status in found.due:
        assert status.dose.earliest.after(birth) <= today, "offered before its earliest age"
        assert status.dose.age.after(birth) <= today < status.dose.on_time_until.after(birth)
    for status in found.overdue:
        assert status.dose.on_time_until.after(birth) <= today
        assert status.deadline is None or status.deadline >= today
    for status in found.upcoming:
        assert status.date > today, "a next date in the past"
        assert status.date >= status.dose.earliest.after(birth)
        assert status.deadline is None or status.date <= status.deadline
    for status in found.expired:
        assert status.dose.catch_up_until is not None or SCHEDULE.previous(status.dose)
    if found.next:
        assert found.next_date is not None and found.next_date > today
    # Late doses always come with the catch-up advice of imunisasi.kejar.
    text = reply_text(found)
    if found.overdue:
        assert found.catch_up_advice and found.catch_up_topic == "imunisasi.kejar"
        assert found.catch_up_advice in text and "imunisasi kejar" in text
    else:
        assert found.catch_up_advice is None and found.catch_up_topic is None
    assert len(text) <= MAX_REPLY_CHARS < 700
    assert "Posyandu/Puskesmas" in text and "Buku KIA" in text
    assert text.endswith(SCHEDULE.source_line())


# --- The schedule file ----------------------------------------------------------------


def test_shipped_schedule_is_valid_and_sourced() -> None:
    assert SCHEDULE.version and SCHEDULE.reviewed == dt.date(2026, 12, 3)
    assert any(source.issuer == "Kemenkes RI" for source in SCHEDULE.sources)
    assert SCHEDULE.catch_up_topic == "imunisasi.kejar"
    expected = {
        "hb0", "bcg", "opv1", "opv2", "opv3", "opv4", "dpt_hb_hib1", "dpt_hb_hib2",
        "dpt_hb_hib3", "dpt_hb_hib4", "pcv1", "pcv2", "pcv3", "rv1", "rv2", "rv3",
        "ipv1", "ipv2", "mr1", "mr2", "je",
    }  # fmt: skip
    assert expected == ALL_IDS
    assert SCHEDULE.dose("je").regions >= {BALI}
    assert (SCHEDULE_FILE.parent / "SOURCE.md").exists()


@pytest.mark.parametrize(
    ("dose_id", "months"),
    [("dpt_hb_hib1", 2), ("pcv1", 2), ("rv1", 2), ("opv4", 4), ("ipv1", 4), ("ipv2", 9),
     ("mr1", 9), ("je", 10), ("pcv3", 12), ("mr2", 18), ("dpt_hb_hib4", 18)],
)  # fmt: skip
def test_national_schedule_ages(dose_id: str, months: int) -> None:
    age = SCHEDULE.dose(dose_id).age
    assert (age.months, age.days) == (months, 0)


def test_check_command(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["check"]) == 0
    assert "21 doses are valid" in capsys.readouterr().out
    broken = copy.deepcopy(RAW)
    broken["doses"][0]["colour"] = "red"
    path = tmp_path / "schedule.yml"
    path.write_text(yaml.safe_dump(broken), encoding="utf-8")
    assert main(["check", str(path)]) == 1
    assert "doses[0] (hb0).colour: unknown key" in capsys.readouterr().err


def dose_index(dose_id: str) -> int:
    return next(i for i, dose in enumerate(RAW["doses"]) if dose["id"] == dose_id)


def broken_schedule(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(RAW)
    change(data)
    return data


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda d: d.update(colour="red"), "colour: unknown key"),
        (lambda d: d["doses"][dose_index("bcg")].update(when="1m"), "(bcg).when: unknown key"),
        (lambda d: d.pop("source"), "source: missing"),
        (lambda d: d.update(source=[]), "source: List should have at least 1 item"),
        (
            lambda d: d.update(source=[{"title": "Blog ibu", "issuer": "Someone", "year": 2024}]),
            "at least one Kemenkes source",
        ),
        (lambda d: d.pop("reviewed"), "reviewed: missing"),
        (lambda d: d.update(reviewed="2099-01-01"), "in the future"),
        (lambda d: d.pop("version"), "version: missing"),
        (lambda d: d["doses"][dose_index("mr1")].update(earliest="10m"), "mr1: earliest (10m)"),
        (
            lambda d: d["doses"][dose_index("pcv1")].update(on_time_until="2m"),
            "pcv1: on_time_until (2m) must be after age",
        ),
        (
            lambda d: d["doses"][dose_index("rv3")].update(catch_up_until="4m"),
            "rv3: catch_up_until (4m) is before on_time_until",
        ),
        (
            lambda d: d["doses"][dose_index("opv3")].update(age="1m", earliest="1m"),
            "series opv: opv3 (1m) is not after opv2",
        ),
        (
            lambda d: d["doses"][dose_index("mr2")].update(min_interval="12m"),
            "mr2: on schedule it comes sooner than min_interval",
        ),
        (lambda d: d["doses"][dose_index("opv4")].update(number=5), "series opv: dose numbers"),
        (lambda d: d["doses"][dose_index("pcv1")].update(age="two months"), "not a duration"),
        (lambda d: d["doses"][dose_index("je")].update(regions=["99"]), "je: region 99"),
        (lambda d: d["doses"][dose_index("je")].update(regions=["Bali"]), "regions.0"),
        (lambda d: d["doses"][dose_index("bcg")].update(series="tb"), "series 'tb' is not"),
        (lambda d: d["doses"][dose_index("bcg")].update(id="hb0"), "hb0: the id is used twice"),
        (
            lambda d: d["doses"][dose_index("dpt_hb_hib1")].update(min_interval="4w"),
            "first dose of a series has no min_interval",
        ),
    ],
)
def test_broken_schedule_is_refused_with_the_reason(change: Any, complaint: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        schedule_from_data(
            broken_schedule(change),
            today=TODAY,
            province_codes={"11", "31", "34", "51", "61"},
        )
    assert any(complaint in problem for problem in caught.value.problems), caught.value.problems


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    data = broken_schedule(lambda d: (d.pop("citation"), d["doses"][0].update(colour="x")))
    path = tmp_path / "schedule.yml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ScheduleError) as caught:
        load_schedule(path, today=TODAY)
    assert len(caught.value.problems) == 2
    assert str(path) in str(caught.value)


def test_unreadable_schedule_file(tmp_path: Path) -> None:
    path = tmp_path / "schedule.yml"
    path.write_text("doses: [unclosed", encoding="utf-8")
    with pytest.raises(ScheduleError):
        load_schedule(path, today=TODAY)
    with pytest.raises(ScheduleError):
        load_schedule(tmp_path / "missing.yml", today=TODAY)


# --- Every day from birth to 24 months -------------------------------------------------

AGES = range(0, months_old(24) + 1)


@pytest.mark.parametrize("province", PROVINCES)
def test_every_day_to_24_months_with_nothing_done(province: str | None) -> None:
    for age in AGES:
        check_invariants(make_plan(age, set(), province), set(), province)


@pytest.mark.parametrize("province", PROVINCES)
def test_every_day_to_24_months_for_a_family_that_never_missed(province: str | None) -> None:
    for age in AGES:
        done = given_on_time(age, province)
        found = make_plan(age, done, province)
        check_invariants(found, done, province)
        assert not found.overdue and not found.expired, age
        assert not found.catch_up_advice


def test_older_children_up_to_six_years() -> None:
    for age in range(months_old(24), months_old(72) + 1, 7):
        for province in PROVINCES:
            check_invariants(make_plan(age, set(), province), set(), province)


@settings(max_examples=300, deadline=None)
@given(
    age=st.integers(min_value=0, max_value=months_old(24)),
    done=st.sets(st.sampled_from(sorted(ALL_IDS))),
    province=st.sampled_from(PROVINCES),
    today=st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2030, 12, 31)),
)
def test_any_age_any_doses_done(
    age: int, done: set[str], province: str | None, today: dt.date
) -> None:
    check_invariants(make_plan(age, done, province, today), done, province)


@settings(max_examples=200, deadline=None)
@given(
    birth=st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2026, 12, 31)),
    done=st.sets(st.sampled_from(sorted(ALL_IDS))),
    province=st.sampled_from(PROVINCES),
)
def test_due_dates_follow_the_schedule(
    birth: dt.date, done: set[str], province: str | None
) -> None:
    dates = dose_due_dates(birth, done, province, schedule=SCHEDULE)
    listed = [dose_id for dose_id, _ in dates]
    assert len(listed) == len(set(listed))
    assert not set(listed) & done
    assert set(listed) <= applicable(province)
    assert [day for _, day in dates] == sorted(day for _, day in dates)
    for dose_id, day in dates:
        dose = SCHEDULE.dose(dose_id)
        assert day >= dose.age.after(birth)
        if dose.catch_up_until:
            assert day < dose.catch_up_until.after(birth)


# --- What a parent asks -----------------------------------------------------------------


def test_four_months_with_nothing_done() -> None:
    found = make_plan(months_old(4))
    assert ids(found.overdue) == {
        "bcg", "opv1", "opv2", "opv3", "dpt_hb_hib1", "dpt_hb_hib2", "pcv1", "pcv2",
        "rv1", "rv2",
    }  # fmt: skip
    assert ids(found.due) == {"ipv1"}
    assert ids(found.expired) == {"hb0"}  # past 7 days; DPT-HB-Hib carries on hepatitis B
    assert found.catch_up_topic == "imunisasi.kejar"
    rv1 = next(s for s in found.overdue if s.dose.id == "rv1")
    assert rv1.deadline == add_months(found.birth_date, 7) - dt.timedelta(days=1)
    text = reply_text(found)
    assert "Imunisasi anak umur 4 bulan" in text
    assert "polio tetes 1–3" in text and "DPT-HB-Hib 1–2" in text
    assert "rotavirus 1–2 (paling lambat" in text
    assert "imunisasi kejar" in text


def test_nine_months_with_everything_up_to_four_months_done() -> None:
    done = given_on_time(months_old(4) + 1, None)
    assert done == {
        "hb0", "bcg", "opv1", "opv2", "opv3", "opv4", "dpt_hb_hib1", "dpt_hb_hib2",
        "dpt_hb_hib3", "pcv1", "pcv2", "rv1", "rv2", "rv3", "ipv1",
    }  # fmt: skip
    found = make_plan(months_old(9), done)
    assert ids(found.due) == {"mr1", "ipv2"}
    assert not found.overdue and not found.expired
    assert ids(found.next) == {"pcv3"}
    text = reply_text(found)
    assert "Waktunya sekarang: polio suntik (IPV) 2, campak-rubela (MR) 1." in text
    assert "imunisasi kejar" not in text


def test_je_only_in_an_endemic_province() -> None:
    age = months_old(10)
    done = given_on_time(age, JAKARTA)  # everything up to 9 months
    in_bali = make_plan(age, done, BALI)
    assert ids(in_bali.due) == {"je"}
    assert "JE" in reply_text(in_bali)
    in_jakarta = make_plan(age, done, JAKARTA)
    everywhere = [in_jakarta.due, in_jakarta.overdue, in_jakarta.upcoming, in_jakarta.expired]
    assert all("je" not in ids(group) for group in everywhere)
    assert not in_jakarta.region_unknown and "JE" not in reply_text(in_jakarta)
    unknown = make_plan(age, done, None)
    assert "je" not in ids(unknown.due) and ids(unknown.region_unknown) == {"je"}
    assert "hanya diberikan di daerah tertentu" in reply_text(unknown)
    # A village code carries its province.
    assert ids(make_plan(age, done, "51.03.01.2001").due) == {"je"}
    # Far from 10 months, an unknown province does not bring JE up.
    assert not make_plan(months_old(2), set(), None).region_unknown


def test_rotavirus_past_its_upper_age_is_not_offered() -> None:
    found = make_plan(months_old(8))
    assert {"rv1", "rv2", "rv3"} <= ids(found.expired)
    assert not {"rv1", "rv2", "rv3"} & (ids(found.due) | ids(found.overdue) | ids(found.upcoming))
    assert "rotavirus 1–3" in reply_text(found)
    # At 6 months 2 weeks the first dose still fits, the later ones (4 weeks apart) do not.
    late = make_plan(months_old(6, 14))
    assert "rv1" in ids(late.overdue) and {"rv2", "rv3"} <= ids(late.expired)
    # The last day: 6 months 29 days is still "overdue" (can be given), 7 months is not.
    birth = TODAY - dt.timedelta(days=200)
    last_day = add_months(birth, 7) - dt.timedelta(days=1)
    on_last = make_plan((last_day - birth).days, {"rv1", "rv2"}, today=last_day)
    assert "rv3" in ids(on_last.overdue)
    day_after = last_day + dt.timedelta(days=1)
    after = make_plan((day_after - birth).days, {"rv1", "rv2"}, today=day_after)
    assert "rv3" in ids(after.expired)


def test_hepatitis_b_birth_dose() -> None:
    assert ids(make_plan(0).due) == {"hb0"}
    day3 = make_plan(3)
    assert ids(day3.overdue) == {"hb0"}
    assert day3.overdue[0].deadline == TODAY + dt.timedelta(days=4)  # day 7 of life
    assert "hb0" in ids(make_plan(7).overdue)
    assert "hb0" in ids(make_plan(8).expired)
    text = reply_text(make_plan(0))
    assert text.startswith("Imunisasi bayi baru lahir:")
    assert "Berikutnya: BCG, polio tetes 1" in text


def test_eighteen_months_boosters() -> None:
    age = months_old(18)
    found = make_plan(age, given_on_time(age, None))
    assert ids(found.due) == {"dpt_hb_hib4", "mr2"}


def test_later_doses_imply_the_earlier_ones() -> None:
    found = make_plan(months_old(5), {"dpt_hb_hib3", "opv4", "pcv2", "rv3", "ipv1", "bcg"})
    assert {"dpt_hb_hib1", "dpt_hb_hib2", "opv1", "pcv1", "rv1"} <= found.done
    assert not found.overdue
    assert ids(found.expired) == {"hb0"}


def test_catch_up_moves_the_next_doses_of_a_series() -> None:
    found = make_plan(months_old(4))
    dpt3 = next(s for s in found.upcoming if s.dose.id == "dpt_hb_hib3")
    assert dpt3.date == TODAY + dt.timedelta(weeks=8)  # DPT 1 today, 2 in 4 weeks, 3 in 8
    # The reply names only doses that keep their scheduled date.
    assert "Berikutnya: polio suntik (IPV) 2, campak-rubela (MR) 1" in reply_text(found)


def test_all_done_at_two_years() -> None:
    age = months_old(24)
    found = make_plan(age, ALL_IDS - {"je"}, JAKARTA)
    assert not (found.due or found.overdue or found.upcoming or found.expired)
    assert "sudah lengkap" in reply_text(found)


def test_plan_refuses_a_negative_age() -> None:
    with pytest.raises(ValueError):
        make_plan(-1)


def test_dose_due_dates_for_reminders() -> None:
    birth = dt.date(2026, 1, 31)
    dates = dict(dose_due_dates(birth, {"hb0"}, JAKARTA, schedule=SCHEDULE))
    assert "hb0" not in dates and "je" not in dates
    assert dates["bcg"] == dt.date(2026, 2, 28)  # one month after 31 January
    assert dates["dpt_hb_hib1"] == dt.date(2026, 3, 31)
    assert dates["mr2"] == dt.date(2027, 7, 31)
    assert dose_due_dates(birth, set(), BALI, schedule=SCHEDULE)[-1][0] in {"dpt_hb_hib4", "mr2"}
    assert "je" in dict(dose_due_dates(birth, set(), BALI, schedule=SCHEDULE))
    # With today: late doses are dated today, expired ones are gone.
    today = dt.date(2026, 10, 15)
    later = dict(dose_due_dates(birth, set(), JAKARTA, today=today, schedule=SCHEDULE))
    assert later["bcg"] == today and "rv1" not in later and "hb0" not in later
    assert min(later.values()) == today
    with pytest.raises(ValueError):
        dose_due_dates(birth, set(), None, today=dt.date(2025, 1, 1), schedule=SCHEDULE)


def test_default_schedule_is_the_shipped_file() -> None:
    found = plan(months_old(2), set(), None, TODAY)
    assert isinstance(found.schedule, Schedule)
    assert ids(found.due) == ids(make_plan(months_old(2)).due)


# --- Reading a child's age --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("4 bulan", months_old(4)),
        ("4 bln", months_old(4)),
        ("anak sy 4bln imunisasi apa?", months_old(4)),
        ("umur 2 thn", months_old(24)),
        ("8 minggu", 56),
        ("usia 1,5 tahun", months_old(18)),
        ("usia 1.5 thn", months_old(18)),
        ("satu setengah tahun", months_old(18)),
        ("18 bulan", months_old(18)),
        ("1 tahun 3 bulan", months_old(15)),
        ("umur dua bulan", months_old(2)),
        ("dua belas bulan", months_old(12)),
        ("bayi sy umur seminggu udah perlu imunisasi?", 7),
        ("sebulan", months_old(1)),
        ("anakku umur 2 sasi imunisasi opo", months_old(2)),
        ("baru lahir", 0),
        ("bayi baru dilahirkan", 0),
        ("anak aku baru lahir kemarin imunisasi apa dulu", 1),
        ("3 hari", 3),
        ("umur 0 bulan", 0),
        ("demam 3 hari, umur 2 bulan", months_old(2)),
        ("bayi 8 bulan bulan ini imun apa ya dok", months_old(8)),
        ("anak lahir 5 bulan yang lalu", months_old(5)),
        ("lahir 3 maret 2025", (TODAY - dt.date(2025, 3, 3)).days),
        ("daftarkan anak saya lahir 3 Maret 2025", (TODAY - dt.date(2025, 3, 3)).days),
        ("lahir 03-03-2025", (TODAY - dt.date(2025, 3, 3)).days),
        ("tgl lahir 3/3/25", (TODAY - dt.date(2025, 3, 3)).days),
        ("tanggal lahir 25-12-2023", (TODAY - dt.date(2023, 12, 25)).days),
        ("lahirnya 17.8.2024 min", (TODAY - dt.date(2024, 8, 17)).days),
        ("lahir 2025-03-03", (TODAY - dt.date(2025, 3, 3)).days),
        ("03/03/2025", (TODAY - dt.date(2025, 3, 3)).days),
        ("10 oktober 2024 tgl lahir anak saya", (TODAY - dt.date(2024, 10, 10)).days),
        ("daftar anak lahir 14 feb 24", (TODAY - dt.date(2024, 2, 14)).days),
        ("anak sy lahirnya 9 sept 2024 tolong dicatat", (TODAY - dt.date(2024, 9, 9)).days),
        ("anak kedua lahir 12 januari kemarin", (TODAY - dt.date(2026, 1, 12)).days),
        ("lahir 25 desember", (TODAY - dt.date(2025, 12, 25)).days),  # the last one past
        ("anak sy lahir maret 2025 skrg imunisasi apa", (TODAY - dt.date(2025, 3, 15)).days),
        ("anak sy 6 tahun perlu imunisasi apa", months_old(72)),
    ],
)
def test_age_is_read(text: str, days: int) -> None:
    assert age_in_days(text, TODAY) == days


@pytest.mark.parametrize(
    "text",
    [
        "4 anak",
        "bulan depan",
        "saya hamil 8 bulan",
        "posyandu tanggal 10 bulan ini",
        "2 minggu lagi imunisasi",
        "imunisasi 2 bulan lalu",
        "demam sudah 3 hari",
        "jam 4",
        "tgl 4",
        "posyandu tgl 10-12-2026",
        "jadwal imunisasi",
        "",
        "lahir 2025",
    ],
)
def test_near_misses_are_not_an_age(text: str) -> None:
    assert parse_age(text, TODAY) is None
    assert age_in_days(text, TODAY) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("lahir 3 maret 2027", "belum lewat"),
        ("tgl lahir 4/12/26", "belum lewat"),
        ("lahir 3 maret 2019", "sampai umur 6 tahun"),
        ("anak sy kls 1 sd umur 7 thn imunisasi apa", "sampai umur 6 tahun"),
        ("lahir 31/02/2025", "tidak ada di kalender"),
    ],
)
def test_impossible_ages_are_refused_with_a_reason(text: str, reason: str) -> None:
    found = parse_age(text, TODAY)
    assert found is not None and found.days is None
    assert found.rejection is not None and reason in found.rejection
    assert age_in_days(text, TODAY) is None


def test_birth_date_is_kept() -> None:
    found = parse_age("bayi saya lahir 20/11/2024, tolong daftarkan", TODAY)
    assert found is not None
    assert found.birth_date == dt.date(2024, 11, 20) and found.from_birth_date
    assert not found.approximate
    stated = parse_age("anak saya 4 bulan", TODAY)
    assert stated is not None and not stated.from_birth_date
    assert stated.birth_date == add_months(TODAY, -4)


_FORMS = (
    "lahir {d} {month} {y}",
    "tgl lahir {d}/{m}/{yy}",
    "lahir {dd}-{mm}-{y}",
    "anak sy lahir tgl {d}.{m}.{y}",
    "tanggal lahir {y}-{mm}-{dd}",
)
_MONTHS = [month.lower() for month in MONTHS_ID]


@settings(max_examples=300, deadline=None)
@given(
    birth=st.dates(min_value=add_months(TODAY, -72), max_value=TODAY),
    form=st.sampled_from(_FORMS),
)
def test_any_birth_date_in_range_reads_back(birth: dt.date, form: str) -> None:
    text = form.format(
        d=birth.day,
        dd=f"{birth.day:02d}",
        m=birth.month,
        mm=f"{birth.month:02d}",
        month=_MONTHS[birth.month - 1],
        y=birth.year,
        yy=f"{birth.year % 100:02d}",
    )
    found = parse_age(text, TODAY)
    assert found is not None and found.birth_date == birth and found.days == (TODAY - birth).days


@settings(max_examples=200, deadline=None)
@given(months=st.integers(min_value=0, max_value=72), unit=st.sampled_from(["bulan", "bln"]))
def test_any_age_in_months_reads_back(months: int, unit: str) -> None:
    assert age_in_days(f"anak saya umur {months} {unit}", TODAY) == months_old(months)


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=80))
def test_any_text_parses_without_error(text: str) -> None:
    found = parse_age(text, TODAY)
    assert found is None or found.days is None or 0 <= found.days <= months_old(72)
    assert parse_done(text) <= ALL_IDS


# --- Reading the doses already given ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "doses"),
    [
        ("sudah imunisasi BCG", {"bcg"}),
        ("sudah BCG dan polio 1", {"bcg", "opv1"}),
        ("udah hb0 sama bcg", {"hb0", "bcg"}),
        ("pentabio", {"dpt_hb_hib1"}),
        ("sudah DPT 1", {"dpt_hb_hib1"}),
        ("sudah dpt-hb-hib 3", {"dpt_hb_hib3"}),
        ("DPT ketiga", {"dpt_hb_hib3"}),
        ("dpt lanjutan", {"dpt_hb_hib4"}),
        ("sudah campak", {"mr1"}),
        ("MR", {"mr1"}),
        ("mr lanjutan", {"mr2"}),
        ("campak rubella 2", {"mr2"}),
        ("sudah PCV", {"pcv1"}),
        ("pcv 1 2", {"pcv1", "pcv2"}),
        ("rotavirus", {"rv1"}),
        ("RV 2", {"rv2"}),
        ("sudah IPV", {"ipv1"}),
        ("polio suntik 2", {"ipv2"}),
        ("polio tetes 4 sama ipv 1", {"opv4", "ipv1"}),
        ("sudah polio 1-3", {"opv1", "opv2", "opv3"}),
        ("sudah dpt 1 sampai 3", {"dpt_hb_hib1", "dpt_hb_hib2", "dpt_hb_hib3"}),
        ("sudah hb0, bcg, polio 1,2 dan dpt 1", {"hb0", "bcg", "opv1", "opv2", "dpt_hb_hib1"}),
        ("sudah JE", {"je"}),
        ("sudah BCG tapi polio belum", {"bcg"}),
        ("sudah BCG belum polio", {"bcg"}),
        ("belum BCG, sudah polio 1", {"opv1"}),
        ("BCG sudah, polio belum", {"bcg"}),
        ("sudah semua kecuali MR", set()),
        ("anak saya belum pernah imunisasi", set()),
        ("jadwal imunisasi", set()),
    ],
)
def test_done_doses_are_read(text: str, doses: set[str]) -> None:
    assert parse_done(text, schedule=SCHEDULE) == doses
