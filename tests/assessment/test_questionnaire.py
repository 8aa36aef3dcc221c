import pytest

from assessment.questionnaire import Answer, AssessmentError, load, parse
from protocol import limits

REQUIRED_AREAS = {
    "staffing-languages",
    "national-channels",
    "media",
    "cbrne",
    "standards",
    "secure-comms",
    "exercises",
    "platform-ops",
}

MINIMAL = """
id = "q"
version = 2
title = "A questionnaire"
levels = [{ name = "None", meaning = "Nothing." }, { name = "Some", meaning = "Something." }]
[[area]]
id = "a"
title = "Area A"
question = "Can it?"
levels = ["No.", "Yes."]
"""


def test_the_shipped_questionnaire_loads_with_its_key():
    questionnaire = load()
    assert questionnaire.key == "qroc-oc-capabilities/1"
    assert len(questionnaire.key) <= limits.questionnaire_chars_max
    assert [level.value for level in questionnaire.levels] == [0, 1, 2, 3, 4]
    assert questionnaire.max_level == 4


def test_the_shipped_questionnaire_covers_every_required_area_with_five_descriptors():
    questionnaire = load(1)
    assert 10 <= len(questionnaire.areas) <= 14
    assert {area.id for area in questionnaire.areas} >= REQUIRED_AREAS
    for area in questionnaire.areas:
        assert len(area.levels) == 5, area.id
        assert len(set(area.levels)) == 5, f"{area.id} repeats a descriptor"
        assert area.title and area.question.endswith("?")


def test_an_unknown_version_is_refused():
    with pytest.raises(AssessmentError, match="no questionnaire version 99"):
        load(99)
    with pytest.raises(AssessmentError, match="version"):
        load(0)


def test_a_minimal_questionnaire_parses():
    questionnaire = parse(MINIMAL)
    assert questionnaire.key == "q/2"
    assert questionnaire.area("a").levels == ("No.", "Yes.")


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ('id = "q"', 'id = "Q!"', "does not match"),
        ("version = 2", "version = 0", "version"),
        ('levels = ["No.", "Yes."]', 'levels = ["No."]', "1 level descriptors; the scale has 2"),
        ('id = "a"', 'id = "a b"', "does not match"),
        ('title = "Area A"', 'title = ""', "must not be empty"),
        ("[[area]]", "[[other]]", "area must be a list"),
        ('question = "Can it?"', 'question = "Can\\u0000 it?"', "U\\+0000"),
    ],
)
def test_a_broken_questionnaire_is_refused_naming_the_problem(old, new, problem):
    with pytest.raises(AssessmentError, match=problem):
        parse(MINIMAL.replace(old, new, 1))


def test_a_scale_of_one_level_is_refused():
    one_level = MINIMAL.replace(', { name = "Some", meaning = "Something." }', "").replace(', "Yes."', "")
    with pytest.raises(AssessmentError, match="at least 2 levels"):
        parse(one_level)


def test_a_questionnaire_with_a_repeated_area_is_refused():
    area = MINIMAL[MINIMAL.index("[[area]]") :]
    with pytest.raises(AssessmentError, match="'a' appears more than once"):
        parse(MINIMAL + area)


def test_a_questionnaire_that_is_not_toml_is_refused():
    with pytest.raises(AssessmentError, match="not valid TOML"):
        parse("id = ")


def test_good_answers_are_accepted_and_returned_by_area():
    questionnaire = load()
    answers = (
        Answer("media", 1, 3, "Two workstations; no verification training yet.\n\tPlanned for Q3."),
        Answer("cbrne", 4, 2, ""),
        Answer("standards", 0, 0),
    )
    assert questionnaire.check(answers) == {answer.area: answer for answer in answers}


def test_no_answers_at_all_is_a_valid_unanswered_profile():
    assert load().check(()) == {}


def test_a_target_below_current_is_a_surplus_not_a_gap():
    answer = Answer("cbrne", 4, 2)
    load().check([answer])
    assert (answer.gap, answer.surplus) == (0, 2)
    assert (Answer("cbrne", 1, 3).gap, Answer("cbrne", 1, 3).surplus) == (2, 0)


@pytest.mark.parametrize(
    ("answers", "problem"),
    [
        ([Answer("media", 1, 2), Answer("media", 2, 2)], "area 'media' is answered more than once"),
        ([Answer("teleportation", 1, 2)], "area 'teleportation' is not in questionnaire qroc-oc-capabilities/1"),
        ([Answer("media", -1, 2)], "area 'media': current level -1 is not an integer from 0 to 4"),
        ([Answer("media", 5, 2)], "area 'media': current level 5 is not"),
        ([Answer("media", 1, 5)], "area 'media': target level 5 is not"),
        ([Answer("media", 1, -1)], "area 'media': target level -1 is not"),
        ([Answer("media", True, 2)], "area 'media': current level True is not an integer"),
        ([Answer("media", 1, 2.0)], "area 'media': target level 2.0 is not an integer"),  # type: ignore[arg-type]
        ([Answer("media", 1, 2, "x" * (limits.profile_note_chars_max + 1))], "area 'media': note has 2001 characters"),
        ([Answer("media", 1, 2, "bell\x07")], "area 'media': note contains U\\+0007"),
        ([Answer("media", 1, 2, "   ")], "area 'media': note must not be blank"),
        ([Answer("media", 1, 2, None)], "area 'media': note must be text"),  # type: ignore[arg-type]
        ([("media", 1, 2, "")], "must be an Answer"),
    ],
)
def test_bad_answers_are_refused_with_a_message_naming_the_problem(answers, problem):
    with pytest.raises(AssessmentError, match=problem):
        load().check(answers)


def test_a_note_of_exactly_the_maximum_length_is_accepted():
    load().check([Answer("media", 1, 2, "x" * limits.profile_note_chars_max)])


def test_an_assessment_error_is_a_value_error():
    assert issubclass(AssessmentError, ValueError)
