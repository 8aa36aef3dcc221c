"""The self-assessment questionnaire and the rule a profile's answers follow.

A questionnaire is a packaged TOML file, `questionnaire-<version>.toml`, never edited once
published: a changed wording or area is a new version, so that profiles answering the same
key stay comparable. Its key, `<id>/<version>`, is what a profile names as its questionnaire.

The file:

- `id` matches `[a-z0-9-]{1,32}`, `version` is an integer >= 1, and the key they make is at
  most `questionnaire_chars_max` characters;
- `levels` is the maturity scale, 2 or more `{name, meaning}` tables; level `i` is the `i`-th;
- one or more `[[area]]`, at most `profile_areas_max`, each with a unique `id` matching
  `[a-z0-9-]{1,32}`, a `title`, a `question` and exactly one descriptor per level in `levels`;
- titles and level names are line text of at most 200 characters (a heading), meanings,
  questions and descriptors at most 2000 (a sentence or two), none blank (protocol/text.py).

Anything else is an AssessmentError: a broken questionnaire is a packaging fault, refused at
load rather than discovered by whoever first renders it.

A profile's answers (`Questionnaire.check`):

- each answer names a known area, and no area twice; an area not answered is allowed (the OC
  has not assessed it yet) and shows as unanswered, never as level 0;
- `current` and `target` are integers (not booleans) from 0 to the top level;
- `note` is free text (protocol/text.py: TAB and LF allowed, no other controls), may be
  empty, at most `profile_note_chars_max` characters;
- a target below current is allowed: an OC may deliberately scale a capability down. It is a
  surplus, never a gap: `gap = max(0, target - current)`, `surplus = max(0, current - target)`.

A failure raises AssessmentError (a ValueError) whose message names the area and the problem.
"""

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from protocol import limits
from protocol.errors import InvalidField
from protocol.text import Shape, TextRule

_ID = re.compile("[a-z0-9-]{1,32}")
_NOTE = TextRule("note", limits.profile_note_chars_max, Shape.FREE, empty=True)
_LINE = limits.title_chars_max
_TEXT = 2000  # a meaning, question or descriptor: a sentence or two (our own file, not wire)


class AssessmentError(ValueError):
    """A questionnaire file or a profile's answers break the rules above."""


@dataclass(frozen=True, slots=True)
class Level:
    value: int
    name: str
    meaning: str


@dataclass(frozen=True, slots=True)
class Area:
    id: str
    title: str
    question: str
    levels: tuple[str, ...]  # descriptor of level i at index i


@dataclass(frozen=True, slots=True)
class Answer:
    area: str
    current: int
    target: int
    note: str = ""

    @property
    def gap(self) -> int:
        return max(0, self.target - self.current)

    @property
    def surplus(self) -> int:
        return max(0, self.current - self.target)


@dataclass(frozen=True, slots=True)
class Questionnaire:
    id: str
    version: int
    title: str
    levels: tuple[Level, ...]
    areas: tuple[Area, ...]

    @property
    def key(self) -> str:
        return f"{self.id}/{self.version}"

    @property
    def max_level(self) -> int:
        return len(self.levels) - 1

    def area(self, area_id: str) -> Area:
        for area in self.areas:
            if area.id == area_id:
                return area
        raise AssessmentError(f"area {area_id!r} is not in questionnaire {self.key}")

    def check(self, answers: Iterable[Answer]) -> dict[str, Answer]:
        """The answers by area, in the order given, or AssessmentError for the first bad one."""
        known = {area.id for area in self.areas}
        by_area: dict[str, Answer] = {}
        for answer in answers:
            if not isinstance(answer, Answer):
                raise AssessmentError(f"an answer must be an Answer, not {type(answer).__name__}")
            area = answer.area
            if type(area) is not str or area not in known:
                raise AssessmentError(f"area {area!r} is not in questionnaire {self.key}")
            if area in by_area:
                raise AssessmentError(f"area {area!r} is answered more than once")
            for field in ("current", "target"):
                value = getattr(answer, field)
                if type(value) is not int or not 0 <= value <= self.max_level:
                    raise AssessmentError(
                        f"area {area!r}: {field} level {value!r} is not an integer from 0 to {self.max_level}"
                    )
            try:
                _NOTE.check(answer.note)
            except InvalidField as error:
                raise AssessmentError(f"area {area!r}: {error}") from None
            by_area[area] = answer
        return by_area


def load(version: int = 1) -> Questionnaire:
    """The packaged questionnaire of this version."""
    if type(version) is not int or version < 1:
        raise AssessmentError(f"questionnaire version {version!r} is not an integer >= 1")
    return _load(version)


@cache  # the packaged file cannot change while the process runs
def _load(version: int) -> Questionnaire:
    resource = resources.files("assessment").joinpath(f"questionnaire-{version}.toml")
    if not resource.is_file():
        raise AssessmentError(f"there is no questionnaire version {version}")
    questionnaire = parse(resource.read_text(encoding="utf-8"))
    if questionnaire.version != version:
        raise AssessmentError(f"questionnaire-{version}.toml says it is version {questionnaire.version}")
    return questionnaire


def parse(text: str) -> Questionnaire:
    """A questionnaire from its TOML text, checked against the rules above."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise AssessmentError(f"questionnaire is not valid TOML: {error}") from None
    qid = _identifier(data, "id", "questionnaire")
    version = data.get("version")
    if type(version) is not int or version < 1:
        raise AssessmentError(f"questionnaire version {version!r} is not an integer >= 1")
    if len(f"{qid}/{version}") > limits.questionnaire_chars_max:
        raise AssessmentError(f"questionnaire key is longer than {limits.questionnaire_chars_max} characters")
    levels = _list(data, "levels", "questionnaire")
    if len(levels) < 2:
        raise AssessmentError("questionnaire levels: a scale needs at least 2 levels")
    scale = tuple(
        Level(i, _text(level, "name", f"level {i}", _LINE), _text(level, "meaning", f"level {i}", _TEXT))
        for i, level in enumerate(_tables(levels, "levels"))
    )
    areas = _tables(_list(data, "area", "questionnaire"), "area")
    if not 1 <= len(areas) <= limits.profile_areas_max:
        raise AssessmentError(f"questionnaire has {len(areas)} areas; 1 to {limits.profile_areas_max} are allowed")
    parsed = tuple(_area(area, len(scale)) for area in areas)
    ids = [area.id for area in parsed]
    for area_id in ids:
        if ids.count(area_id) > 1:
            raise AssessmentError(f"area {area_id!r} appears more than once")
    return Questionnaire(qid, version, _text(data, "title", "questionnaire", _LINE), scale, parsed)


def _area(data: dict[str, object], level_count: int) -> Area:
    area_id = _identifier(data, "id", "area")
    where = f"area {area_id!r}"
    descriptors = _list(data, "levels", where)
    if len(descriptors) != level_count:
        raise AssessmentError(f"{where} has {len(descriptors)} level descriptors; the scale has {level_count}")
    return Area(
        area_id,
        _text(data, "title", where, _LINE),
        _text(data, "question", where, _TEXT),
        tuple(_text({"descriptor": d}, "descriptor", f"{where} level {i}", _TEXT) for i, d in enumerate(descriptors)),
    )


def _identifier(data: dict[str, object], name: str, where: str) -> str:
    value = data.get(name)
    if type(value) is not str or not _ID.fullmatch(value):
        raise AssessmentError(f"{where} {name} {value!r} does not match [a-z0-9-]{{1,32}}")
    return value


def _text(data: dict[str, object], name: str, where: str, chars_max: int) -> str:
    try:
        return TextRule(f"{where} {name}", chars_max).check(data.get(name))
    except InvalidField as error:
        raise AssessmentError(str(error)) from None


def _list(data: dict[str, object], name: str, where: str) -> list[object]:
    value = data.get(name)
    if not isinstance(value, list):
        raise AssessmentError(f"{where} {name} must be a list")
    return value


def _tables(items: list[object], name: str) -> list[dict[str, object]]:
    if not all(isinstance(item, dict) for item in items):
        raise AssessmentError(f"questionnaire {name}: every entry must be a table")
    return [item for item in items if isinstance(item, dict)]
