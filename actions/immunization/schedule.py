"""The routine immunization schedule file: its model, loading and validation.

`data/immunization/schedule.yml` is data a health promoter reviews, not code. Loading it
checks everything a careless edit could break (unknown keys, ages out of order, a series
with a gap, a missing source, unknown province codes) and lists every problem at once.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from actions.immunization.dates import Duration
from actions.immunization.texts import TEXT

__all__ = [
    "SCHEDULE_FILE",
    "Dose",
    "Schedule",
    "ScheduleError",
    "Source",
    "default_schedule",
    "load_schedule",
    "province_codes",
    "schedule_from_data",
]

_DATA = Path(__file__).resolve().parents[2] / "data"
SCHEDULE_FILE = _DATA / "immunization" / "schedule.yml"
PROVINCES_FILE = _DATA / "wilayah" / "provinces.csv"


class ScheduleError(Exception):
    """A schedule file that must not be used; `problems` says where and why, one per line."""

    def __init__(self, origin: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            f"{origin}: the immunization schedule is not valid:\n- " + "\n- ".join(problems)
        )


@dataclass(frozen=True)
class Source:
    title: str
    issuer: str
    year: int
    url: str | None = None


@dataclass(frozen=True)
class Dose:
    id: str
    name: str
    series: str
    number: int
    age: Duration
    earliest: Duration
    on_time_until: Duration
    catch_up_until: Duration | None = None
    min_interval: Duration | None = None
    regions: frozenset[str] = frozenset()
    late_note: str | None = None
    expired_note: str | None = None
    region_note: str | None = None

    def applies_in(self, province: str | None) -> bool | None:
        """True/False for a known province; None when it depends on an unknown province."""
        if not self.regions:
            return True
        return None if province is None else province in self.regions


@dataclass(frozen=True)
class Schedule:
    version: str
    reviewed: dt.date
    sources: tuple[Source, ...]
    citation: str
    catch_up_topic: str
    catch_up_advice: str
    series_labels: tuple[tuple[str, str], ...]
    doses: tuple[Dose, ...]

    def dose(self, dose_id: str) -> Dose:
        for dose in self.doses:
            if dose.id == dose_id:
                return dose
        raise KeyError(dose_id)

    def series_doses(self, series: str) -> tuple[Dose, ...]:
        return tuple(sorted((d for d in self.doses if d.series == series), key=lambda d: d.number))

    def previous(self, dose: Dose) -> Dose | None:
        for other in self.doses:
            if other.series == dose.series and other.number == dose.number - 1:
                return other
        return None

    def label(self, series: str) -> str:
        return dict(self.series_labels).get(series, series)

    def source_line(self) -> str:
        """ "Sumber: ..." for the end of a reply."""
        return TEXT["source"].format(citation=self.citation)


def _duration(text: str) -> str:
    Duration.parse(text)
    return text


DurationText = Annotated[str, AfterValidator(_duration)]
Text = Annotated[str, StringConstraints(min_length=3, strip_whitespace=True)]
ShortText = Annotated[str, StringConstraints(min_length=3, max_length=160, strip_whitespace=True)]


class _SourceFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Text
    issuer: Annotated[str, StringConstraints(min_length=2, strip_whitespace=True)]
    year: int = Field(ge=1990, le=2100)
    url: str | None = None


class _DoseFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
    name: Text
    series: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
    number: int = Field(ge=1, le=10)
    age: DurationText
    earliest: DurationText
    on_time_until: DurationText
    catch_up_until: DurationText | None = None
    min_interval: DurationText | None = None
    regions: list[Annotated[str, StringConstraints(pattern=r"^\d{2}$")]] = Field(
        default_factory=list
    )
    late_note: ShortText | None = None
    expired_note: ShortText | None = None
    region_note: ShortText | None = None
    notes: str | None = None


class _ScheduleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
    reviewed: dt.date
    source: list[_SourceFile] = Field(min_length=1)
    citation: ShortText
    catch_up_topic: Annotated[str, StringConstraints(pattern=r"^[a-z_]+\.[a-z_]+$")]
    catch_up_advice: Annotated[str, StringConstraints(min_length=20, max_length=300)]
    series: dict[str, Annotated[str, StringConstraints(min_length=2)]] = Field(min_length=1)
    doses: list[_DoseFile] = Field(min_length=1)


# Month ends and a leap day: an order of ages must hold for every birth date.
_REFERENCE_BIRTHS = (dt.date(2023, 1, 31), dt.date(2024, 2, 29), dt.date(2024, 3, 31))


def _before(a: Duration, b: Duration, *, strict: bool) -> bool:
    for birth in _REFERENCE_BIRTHS:
        first, second = a.after(birth), b.after(birth)
        if first > second or (strict and first == second):
            return False
    return True


def _validation_problems(error: ValidationError, data: object) -> list[str]:
    problems = []
    doses = data.get("doses") if isinstance(data, dict) else None
    for item in error.errors():
        loc = [str(part) for part in item["loc"]]
        if len(loc) >= 2 and loc[0] == "doses" and isinstance(doses, list):
            index = int(loc[1])
            dose_id = doses[index].get("id") if isinstance(doses[index], dict) else None
            loc[:2] = [f"doses[{index}]" + (f" ({dose_id})" if dose_id else "")]
        where = ".".join(loc) or "file"
        kind = item["type"]
        if kind == "extra_forbidden":
            problems.append(f"{where}: unknown key")
        elif kind == "missing":
            problems.append(f"{where}: missing")
        else:
            problems.append(f"{where}: {item['msg']}")
    return problems


def _semantic_problems(
    model: _ScheduleFile, today: dt.date, province_codes: Collection[str] | None
) -> list[str]:
    problems: list[str] = []
    if model.reviewed > today:
        problems.append(f"reviewed: {model.reviewed} is in the future")
    if not any(source.issuer in {"Kemenkes RI", "Permenkes", "KMK"} for source in model.source):
        problems.append("source: at least one Kemenkes source is needed")
    seen: set[str] = set()
    for dose in model.doses:
        if dose.id in seen:
            problems.append(f"{dose.id}: the id is used twice")
        seen.add(dose.id)
        if dose.series not in model.series:
            problems.append(f"{dose.id}: series {dose.series!r} is not listed under series")
        age, earliest = Duration.parse(dose.age), Duration.parse(dose.earliest)
        on_time = Duration.parse(dose.on_time_until)
        if not _before(earliest, age, strict=False):
            problems.append(f"{dose.id}: earliest ({earliest}) is after age ({age})")
        if not _before(age, on_time, strict=True):
            problems.append(f"{dose.id}: on_time_until ({on_time}) must be after age ({age})")
        if dose.catch_up_until is not None:
            limit = Duration.parse(dose.catch_up_until)
            if not _before(on_time, limit, strict=False):
                problems.append(
                    f"{dose.id}: catch_up_until ({limit}) is before on_time_until ({on_time})"
                )
        if dose.number == 1 and dose.min_interval is not None:
            problems.append(f"{dose.id}: the first dose of a series has no min_interval")
        for code in dose.regions:
            if province_codes is not None and code not in province_codes:
                problems.append(f"{dose.id}: region {code} is not a province code")
    for series in model.series:
        members = sorted((d for d in model.doses if d.series == series), key=lambda d: d.number)
        if not members:
            problems.append(f"series {series}: no doses")
            continue
        numbers = [d.number for d in members]
        if numbers != list(range(1, len(members) + 1)):
            problems.append(f"series {series}: dose numbers {numbers} must be 1, 2, 3...")
            continue
        if len({tuple(sorted(d.regions)) for d in members}) > 1:
            problems.append(f"series {series}: all doses must have the same regions")
        for prev, dose in itertools.pairwise(members):
            prev_age, age = Duration.parse(prev.age), Duration.parse(dose.age)
            if not _before(prev_age, age, strict=True):
                problems.append(
                    f"series {series}: {dose.id} ({age}) is not after {prev.id} ({prev_age})"
                )
            elif dose.min_interval is not None:
                interval = Duration.parse(dose.min_interval)
                for birth in _REFERENCE_BIRTHS:
                    if interval.after(prev_age.after(birth)) > age.after(birth):
                        problems.append(
                            f"{dose.id}: on schedule it comes sooner than min_interval "
                            f"({interval}) after {prev.id}"
                        )
                        break
    return problems


def schedule_from_data(
    data: object,
    *,
    origin: str = "schedule",
    today: dt.date | None = None,
    province_codes: Collection[str] | None = None,
) -> Schedule:
    """Validate parsed YAML and build the schedule; raises ScheduleError listing every problem."""
    try:
        model = _ScheduleFile.model_validate(data)
    except ValidationError as error:
        raise ScheduleError(origin, _validation_problems(error, data)) from None
    problems = _semantic_problems(model, today or dt.date.today(), province_codes)
    if problems:
        raise ScheduleError(origin, problems)
    return Schedule(
        version=model.version,
        reviewed=model.reviewed,
        sources=tuple(Source(s.title, s.issuer, s.year, s.url) for s in model.source),
        citation=model.citation,
        catch_up_topic=model.catch_up_topic,
        catch_up_advice=" ".join(model.catch_up_advice.split()),
        series_labels=tuple(model.series.items()),
        doses=tuple(
            Dose(
                id=d.id,
                name=d.name,
                series=d.series,
                number=d.number,
                age=Duration.parse(d.age),
                earliest=Duration.parse(d.earliest),
                on_time_until=Duration.parse(d.on_time_until),
                catch_up_until=Duration.parse(d.catch_up_until) if d.catch_up_until else None,
                min_interval=Duration.parse(d.min_interval) if d.min_interval else None,
                regions=frozenset(d.regions),
                late_note=d.late_note,
                expired_note=d.expired_note,
                region_note=d.region_note,
            )
            for d in model.doses
        ),
    )


def province_codes(path: Path = PROVINCES_FILE) -> frozenset[str] | None:
    """The Kemendagri province codes of data/wilayah/, or None when the file is absent."""
    if not path.exists():
        return None
    with path.open(encoding="utf-8", newline="") as handle:
        return frozenset(row["code"] for row in csv.DictReader(handle))


def load_schedule(
    path: Path = SCHEDULE_FILE,
    *,
    today: dt.date | None = None,
    provinces: Collection[str] | None = None,
) -> Schedule:
    """Read and validate a schedule file; raises ScheduleError listing every problem.

    Region codes are checked against `provinces` (default: data/wilayah/provinces.csv).
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ScheduleError(str(path), [str(error)]) from None
    known = provinces if provinces is not None else province_codes()
    return schedule_from_data(data, origin=str(path), today=today, province_codes=known)


@lru_cache(maxsize=4)
def default_schedule(path: Path = SCHEDULE_FILE) -> Schedule:
    """The shipped schedule, read once per process (it is immutable)."""
    return load_schedule(path)
