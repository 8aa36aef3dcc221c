import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from assessment.matrix import CSV_HEADER, Profile, gaps_per_oc, matrix, summary, to_csv, to_html, utc
from assessment.questionnaire import Answer, load, parse

SMALL = parse(
    """
id = "small"
version = 1
title = "A small questionnaire"
levels = [
    { name = "None", meaning = "-" }, { name = "Initial", meaning = "-" }, { name = "Defined", meaning = "-" },
    { name = "Managed", meaning = "-" }, { name = "Optimised", meaning = "-" },
]
"""
    + "".join(
        f'[[area]]\nid = "{area}"\ntitle = "Area {area.upper()}"\nquestion = "?"\nlevels = ["0", "1", "2", "3", "4"]\n'
        for area in "abcd"
    )
)
SAVED = 1_700_000_000_000  # 2023-11-14T22:13:20Z


def profile(country: str, member: str, *answers: Answer, questionnaire: str = SMALL.key) -> Profile:
    return Profile(country, member, questionnaire, answers, SAVED, "Duty officer")


PROFILES = {
    "peer-be": profile(
        "BE", "Belgian OC", Answer("a", 1, 3, 'Two lines, one "quoted",\nand a comma'), Answer("b", 4, 2)
    ),
    "peer-at": profile("AT", "Austrian OC", Answer("a", 2, 3), Answer("b", 1, 4), Answer("c", 0, 0)),
    "peer-fr": profile("FR", "French OC", Answer("a", 4, 4), questionnaire="small/0"),
    "peer-de": profile("DE", "German OC", Answer("a", 1, 1), Answer("a", 2, 2)),
}


def test_rows_are_the_current_questionnaires_profiles_sorted_by_country():
    result = matrix(SMALL, PROFILES)
    assert [row.key for row in result.rows] == ["peer-at", "peer-be"]
    assert [cell.area for cell in result.rows[0].cells] == ["a", "b", "c", "d"]


def test_a_cell_has_current_target_and_gap_or_none_when_unanswered():
    belgium = matrix(SMALL, PROFILES).rows[1]
    a, b, c, _ = belgium.cells
    assert (a.current, a.target, a.gap, a.surplus) == (1, 3, 2, 0)
    assert (b.current, b.target, b.gap, b.surplus) == (4, 2, 0, 2)
    assert (c.current, c.target, c.gap, c.surplus) == (None, None, None, None)


def test_profiles_of_another_questionnaire_or_invalid_are_set_aside_with_the_reason():
    aside = matrix(SMALL, PROFILES).set_aside
    assert [(entry.key, entry.reason) for entry in aside] == [
        ("peer-de", "invalid: area 'a' is answered more than once"),
        ("peer-fr", "answered 'small/0', not 'small/1'"),
    ]


def test_gaps_per_oc_sum_the_gaps_and_list_the_areas_worst_first():
    gaps = gaps_per_oc(matrix(SMALL, PROFILES))
    assert [(oc.country, oc.total, [(c.area, c.gap) for c in oc.areas]) for oc in gaps] == [
        ("AT", 4, [("b", 3), ("a", 1)]),
        ("BE", 2, [("a", 2)]),
    ]


def test_the_federation_summary_counts_only_the_ocs_that_answered():
    figures = {
        s.area: (s.mean_current, s.mean_target, s.with_gap, s.unanswered) for s in summary(matrix(SMALL, PROFILES))
    }
    assert figures == {
        "a": (1.5, 3.0, 2, ()),
        "b": (2.5, 3.0, 1, ()),  # Belgium's surplus is not a gap
        "c": (0.0, 0.0, 0, ("peer-be",)),
        "d": (None, None, 0, ("peer-at", "peer-be")),
    }


def test_the_csv_round_trips_through_csv_reader():
    rows = list(csv.reader(io.StringIO(to_csv(matrix(SMALL, PROFILES)), newline="")))
    assert tuple(rows[0]) == CSV_HEADER
    assert len(rows) == 1 + 2 * 4
    assert rows[1] == ["AT", "Austrian OC", "a", "2", "3", "1", "", "2023-11-14T22:13:20Z"]
    assert rows[5] == ["BE", "Belgian OC", "a", "1", "3", "2", 'Two lines, one "quoted",\nand a comma', utc(SAVED)]
    assert rows[7][3:6] == ["", "", ""]


def test_csv_text_a_spreadsheet_would_run_as_a_formula_is_defused():
    hostile = {"x": profile("BE", "=HYPERLINK(1)", Answer("a", 1, 1, '=cmd|"/c calc"!A1'), Answer("b", 1, 1, "-2+3"))}
    rows = list(csv.reader(io.StringIO(to_csv(matrix(SMALL, hostile)), newline="")))
    assert {row[1] for row in rows[1:]} == {"'=HYPERLINK(1)"}
    assert [row[6] for row in rows[1:3]] == ['\'=cmd|"/c calc"!A1', "'-2+3"]


def test_the_html_page_contains_every_oc_and_area_and_is_standalone():
    page = to_html(matrix(SMALL, PROFILES), generated_ms=SAVED)
    assert page.startswith("<!DOCTYPE html>")
    for text in ("AT Austrian OC", "BE Belgian OC", "Area A", "Area B", "Area C", "Area D", "2023-11-14T22:13:20Z"):
        assert text in page
    assert "1→3 ▲" in page and "4→2 ▽" in page
    assert "@media print" in page
    for outside in ("<script", "src=", "href=", "@import", "url("):
        assert outside not in page


def test_the_html_page_lists_the_set_aside_profiles_apart():
    page = to_html(matrix(SMALL, PROFILES), generated_ms=SAVED)
    apart = page[page.index("Answered an older or other questionnaire") :]
    assert "FR French OC" in apart and "DE German OC" in apart
    assert "FR French OC" not in page[: page.index("Answered an older or other questionnaire")]


def test_the_html_page_escapes_hostile_text_from_other_ocs():
    script = "<script>alert(1)</script>"
    hostile = {
        "x": Profile("BE", f"OC {script}", SMALL.key, (Answer("a", 1, 2, f"note {script}"),), SAVED, f"op {script}"),
        "y": Profile("NL", f'"><img onerror=x> {script}', "other/1", (), SAVED, None),
    }
    page = to_html(matrix(SMALL, hostile), generated_ms=SAVED)
    assert "<script" not in page and "<img" not in page
    assert "note &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "op &lt;script&gt;" in page


def test_times_are_utc_iso_8601_and_out_of_range_ones_do_not_fail():
    assert utc(0) == "1970-01-01T00:00:00Z"
    assert utc(SAVED + 999) == "2023-11-14T22:13:20Z"
    assert utc(2**63) == f"{2**63} ms"


NOTES = st.text(alphabet="aZé ,\"'<>&=;\n\t€", max_size=40).filter(lambda note: note == "" or note.strip())
MEMBERS = st.text(alphabet="aZé <>&=-", min_size=1, max_size=20).filter(str.strip)
LEVELS = st.integers(0, 4)


@st.composite
def answers(draw: st.DrawFn) -> tuple[Answer, ...]:
    areas = draw(st.lists(st.sampled_from([area.id for area in load().areas]), unique=True))
    return tuple(Answer(area, draw(LEVELS), draw(LEVELS), draw(NOTES)) for area in areas)


@st.composite
def profiles(draw: st.DrawFn) -> dict[str, Profile]:
    count = draw(st.integers(0, 6))
    countries = st.sampled_from(["AT", "BE", "DE", "EU", "FR", "NL"])
    return {
        f"peer-{i}": Profile(draw(countries), draw(MEMBERS), load().key, draw(answers()), SAVED, None)
        for i in range(count)
    }


@given(profiles())
def test_for_any_valid_answers_no_gap_is_negative_and_the_csv_has_a_row_per_oc_and_area(profiles):
    questionnaire = load()
    result = matrix(questionnaire, profiles)
    assert result.set_aside == ()
    for row in result.rows:
        for cell in row.cells:
            if cell.current is None:
                assert cell.gap is None
            else:
                assert cell.gap == max(0, (cell.target or 0) - cell.current) >= 0
    assert all(oc.total >= 0 for oc in gaps_per_oc(result))
    rows = list(csv.reader(io.StringIO(to_csv(result), newline="")))
    assert len(rows) - 1 == len(profiles) * len(questionnaire.areas)
