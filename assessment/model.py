"""The capability matrix's values (built by matrix.py, rendered by report.py), and how a time is written.

Times are UTC ISO 8601 to the second; one out of datetime's range (a hostile or broken
`saved_ms`) is shown as its raw milliseconds rather than failing the whole report.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .questionnaire import Answer, Questionnaire


@dataclass(frozen=True, slots=True)
class Profile:
    country: str  # ISO 3166-1 alpha-2, as in the roster
    member: str
    questionnaire: str  # a Questionnaire.key
    answers: tuple[Answer, ...]
    saved_ms: int
    operator: str | None = None


@dataclass(frozen=True, slots=True)
class Cell:
    area: str
    current: int | None
    target: int | None
    note: str
    gap: int | None
    surplus: int | None


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    profile: Profile
    cells: tuple[Cell, ...]


@dataclass(frozen=True, slots=True)
class SetAside:
    key: str
    profile: Profile
    reason: str


@dataclass(frozen=True, slots=True)
class Matrix:
    questionnaire: Questionnaire
    rows: tuple[Row, ...]
    set_aside: tuple[SetAside, ...]


@dataclass(frozen=True, slots=True)
class OcGaps:
    key: str
    country: str
    member: str
    total: int
    areas: tuple[Cell, ...]  # cells with gap > 0, largest first


@dataclass(frozen=True, slots=True)
class AreaSummary:
    area: str
    mean_current: float | None
    mean_target: float | None
    with_gap: int
    unanswered: tuple[str, ...]  # row keys, in row order


def utc(ms: int) -> str:
    try:
        moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    except OverflowError:
        return f"{ms} ms"
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
