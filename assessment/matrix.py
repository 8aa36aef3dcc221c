"""The federation's capability matrix: every OC's latest profile against one questionnaire.

- A profile enters the matrix only if it names the given questionnaire's key and its answers
  pass `Questionnaire.check`. The others are set aside with the reason (answered an older or
  other questionnaire, or invalid): levels of different questionnaires do not mean the same
  thing, and one member's bad profile must not stop the federation's report.
- Rows are sorted by country, then member name, then the profiles' mapping key; cells follow
  the questionnaire's area order.
- A cell's gap is `max(0, target - current)`, its surplus `max(0, current - target)`; both
  are None when the area is unanswered, which is never counted as level 0.
- Gaps per OC: the sum of gaps and the areas with a gap, largest gap first (ties in area
  order). Summary per area: mean current and target over the OCs that answered (None if
  none), how many have a gap, and which did not answer.
- CSV: RFC 4180 (csv module), one row per OC and area, unanswered levels empty. A text cell
  starting with `=`, `+`, `-`, `@`, TAB or CR gets a leading `'`: notes come from other OCs,
  and a spreadsheet would run them as formulas (CSV injection).
- HTML (`to_html`): one standalone printable page: inline style only, no script, no external
  resource; every value from a profile or the questionnaire goes through html.escape.
- Times are UTC ISO 8601; one out of datetime's range is shown as its raw milliseconds.
"""

import csv
import io
from collections.abc import Mapping

from .model import AreaSummary, Cell, Matrix, OcGaps, Profile, Row, SetAside, utc
from .questionnaire import Answer, AssessmentError, Questionnaire
from .report import page

# The values live in model.py so that report.py can render them without importing this module.
__all__ = [
    "CSV_HEADER",
    "AreaSummary",
    "Cell",
    "Matrix",
    "OcGaps",
    "Profile",
    "Row",
    "SetAside",
    "gaps_per_oc",
    "matrix",
    "summary",
    "to_csv",
    "to_html",
    "utc",
]


def matrix(questionnaire: Questionnaire, profiles: Mapping[str, Profile]) -> Matrix:
    rows: list[Row] = []
    set_aside: list[SetAside] = []
    for key, profile in profiles.items():
        if profile.questionnaire != questionnaire.key:
            reason = f"answered {profile.questionnaire!r}, not {questionnaire.key!r}"
            set_aside.append(SetAside(key, profile, reason))
            continue
        try:
            answers = questionnaire.check(profile.answers)
        except AssessmentError as error:
            set_aside.append(SetAside(key, profile, f"invalid: {error}"))
            continue
        rows.append(Row(key, profile, tuple(_cell(area.id, answers.get(area.id)) for area in questionnaire.areas)))
    rows.sort(key=lambda row: (row.profile.country, row.profile.member, row.key))
    set_aside.sort(key=lambda aside: (aside.profile.country, aside.profile.member, aside.key))
    return Matrix(questionnaire, tuple(rows), tuple(set_aside))


def _cell(area: str, answer: Answer | None) -> Cell:
    if answer is None:
        return Cell(area, None, None, "", None, None)
    return Cell(area, answer.current, answer.target, answer.note, answer.gap, answer.surplus)


def gaps_per_oc(matrix: Matrix) -> tuple[OcGaps, ...]:
    result = []
    for row in matrix.rows:
        order = {cell.area: i for i, cell in enumerate(row.cells)}
        gapped = sorted((c for c in row.cells if c.gap), key=lambda c: (-(c.gap or 0), order[c.area]))
        total = sum(cell.gap or 0 for cell in gapped)
        result.append(OcGaps(row.key, row.profile.country, row.profile.member, total, tuple(gapped)))
    return tuple(result)


def summary(matrix: Matrix) -> tuple[AreaSummary, ...]:
    result = []
    for i, area in enumerate(matrix.questionnaire.areas):
        cells = [(row.key, row.cells[i]) for row in matrix.rows]
        answered = [cell for _, cell in cells if cell.current is not None]
        result.append(
            AreaSummary(
                area.id,
                _mean([cell.current for cell in answered]),
                _mean([cell.target for cell in answered]),
                sum(1 for cell in answered if cell.gap),
                tuple(key for key, cell in cells if cell.current is None),
            )
        )
    return tuple(result)


def _mean(values: list[int | None]) -> float | None:
    levels = [value for value in values if value is not None]
    return sum(levels) / len(levels) if levels else None


CSV_HEADER = ("country", "member", "area", "current", "target", "gap", "note", "saved")


def to_csv(matrix: Matrix) -> str:
    out = io.StringIO()
    writer = csv.writer(out)  # the excel dialect: RFC 4180 quoting, CRLF line ends
    writer.writerow(CSV_HEADER)
    for row in matrix.rows:
        profile = row.profile
        for cell in row.cells:
            writer.writerow(
                (
                    profile.country,
                    _defused(profile.member),
                    cell.area,
                    _blank_if_none(cell.current),
                    _blank_if_none(cell.target),
                    _blank_if_none(cell.gap),
                    _defused(cell.note),
                    utc(profile.saved_ms),
                )
            )
    return out.getvalue()


def _blank_if_none(value: int | None) -> str:
    return "" if value is None else str(value)


def _defused(text: str) -> str:
    return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text


def to_html(matrix: Matrix, generated_ms: int) -> str:
    return page(matrix, gaps_per_oc(matrix), summary(matrix), utc(generated_ms))
