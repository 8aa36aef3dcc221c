"""The MSEL loader: a Master Scenario Events List (exercise/MSEL.md) checked into values.

Pure: the caller reads `msel.toml` and the sizes of the files beside it; `parse` decides.
Everything wrong is a MselError (a ValueError) whose message begins with where it is
("inject M03", "[exercise]", or "MSEL" for the whole file) and names the key, so the
author of a 300-inject file finds the line. The rules, beyond MSEL.md's table:

- The file: at most `msel_bytes_max` bytes of UTF-8 TOML holding only `[exercise]` and
  `[[inject]]` (1 to `msel_injects_max`). Unknown keys anywhere (in a location too) are
  refused: a typo must not silently drop an expected action.
- `[exercise]` needs every key: `name` (protocol/entry.py EXERCISE), `title` (a TITLE
  short enough that the control incident's title, `control_title`, is one too), `version`
  (an integer >= 1), `participants` (1 to `addressees_max` ISO 3166-1 alpha-2 codes or
  "EU", by the roster's own rule, no duplicates), `controller` (one of them), `duration`
  (HH:MM:SS, more than zero, at most `msel_duration_s_max`), `objectives` (1 to
  OBJECTIVES_MAX lines) and `briefing` (free text as a DESCRIPTION, not empty: it becomes
  the control incident's description).
- Every inject needs `id` ([A-Za-z0-9-], 1-16 chars, unique), `at` (HH:MM:SS, not before
  the previous inject's, at most `duration`), `to`, `kind` and `expected` (1 to
  `msel_expected_max` lines), plus what its kind needs, and may have only what its kind
  allows. `to` is "all" (or ["all"]), which means every participant, or a list of
  participants without duplicates; either way it is kept sorted.
- Texts follow the protocol's rules (protocol/body.py): TITLE, DESCRIPTION, TAG (at most
  `tags_max`, no duplicates, kept sorted), COMMENT_TEXT for `text`, PLACE for a location's
  `place`. Objectives and expected actions are line text of at most SENTENCE_CHARS_MAX.
- `category`, `severity`, `status` are the protocol enums' names in lower case. A location
  is `{lat, lon, place}` in degrees (`place` optional), kept as 1e-7 degree integers.
- `incident` names an earlier inject of kind incident, and `to` is a subset of its `to`.
  An update changes at least one field (a `tags = []` alone changes nothing).
- `attachments` (0 to `msel_attachments_per_inject_max`; media needs at least one) are
  relative paths inside the MSEL's folder: `/`-separated parts, each a valid protocol
  FILE_NAME (so no `..`, no absolute path, no backslash, no drive, no hidden file), no
  duplicate within an inject. With `attachment_sizes`, each must be a non-empty file the
  caller found, and the distinct files together at most `msel_attachments_bytes_max`.
"""

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import IntEnum, StrEnum
from typing import TypeVar

from protocol import limits
from protocol.body import (
    COMMENT_TEXT,
    DESCRIPTION,
    FILE_NAME,
    PLACE,
    TAG,
    TITLE,
    Category,
    Comment,
    Location,
    Open,
    Registers,
    Severity,
    Status,
    Update,
)
from protocol.entry import EXERCISE
from protocol.errors import InvalidField
from protocol.roster import check_country
from protocol.text import TextRule

# An objective or expected action is a sentence read in the console and the after-action
# report, not a report of its own: a generous bound keeps a pasted paragraph out.
SENTENCE_CHARS_MAX = 1000
# What an exercise tests fits on a slide; MSEL.md says 1-20 (not wire, so not in limits.py).
OBJECTIVES_MAX = 20
# The control incident's title is the exercise title and this (MSEL.md).
CONTROL_SUFFIX = " — exercise control"

OBJECTIVE = TextRule("objective", SENTENCE_CHARS_MAX)
EXPECTED = TextRule("expected action", SENTENCE_CHARS_MAX)
BRIEFING = replace(DESCRIPTION, name="briefing", empty=False)

_ID = re.compile("[A-Za-z0-9-]{1,16}")
# Hours take three digits: msel_duration_s_max is a week (168 hours). [0-9], not \d,
# which would also match other scripts' digits.
_OFFSET = re.compile("([0-9]{2,3}):([0-5][0-9]):([0-5][0-9])")
_EXERCISE_KEYS = ("name", "title", "version", "controller", "participants", "duration", "objectives", "briefing")
_CHANGES = ("title", "category", "severity", "status", "description", "location", "tags")
_COMMON = ("id", "at", "to", "kind", "expected")
_LOCATION_KEYS = ("lat", "lon", "place")

Table = dict[str, object]
E = TypeVar("E", bound=IntEnum)
T = TypeVar("T")


class MselError(ValueError):
    """An MSEL breaks a rule; the message says where and which key."""


class InjectKind(StrEnum):
    INCIDENT = "incident"
    UPDATE = "update"
    MESSAGE = "message"
    MEDIA = "media"


# Per kind: the keys it needs and the keys it may have, beside _COMMON (MSEL.md's table).
_KEYS: dict[InjectKind, tuple[tuple[str, ...], tuple[str, ...]]] = {
    InjectKind.INCIDENT: (
        ("title", "category", "severity"),
        ("status", "description", "location", "tags", "attachments"),
    ),
    InjectKind.UPDATE: (("incident",), (*_CHANGES, "attachments")),
    InjectKind.MESSAGE: (("text",), ("incident", "attachments")),
    InjectKind.MEDIA: (("incident", "attachments"), ("text",)),
}
_ANY_KEY = {key for needs, may in _KEYS.values() for key in (*needs, *may)} | set(_COMMON)


@dataclass(frozen=True, slots=True)
class Inject:
    id: str
    at_ms: int  # offset from STARTEX
    to: tuple[str, ...]  # country codes, sorted
    kind: InjectKind
    incident: str | None  # the incident inject it plays on; None: its own, or the control incident
    registers: Registers  # empty but for incident and update
    tags: tuple[str, ...]  # sorted
    text: str | None  # a message's text, a media inject's caption
    attachments: tuple[str, ...]  # paths relative to the MSEL's folder, as written
    expected: tuple[str, ...]

    def body(self, incident: bytes | None) -> Open | Update | Comment | None:
        """The entry body this inject releases, given the id of the incident it plays on
        (None for an incident inject, which opens its own). None for a media inject without
        a caption: its attachments are uploaded separately by the node."""
        if self.kind is InjectKind.INCIDENT:
            if incident is not None:
                raise ValueError(f"inject {self.id} opens its own incident; it plays on none")
            return Open(self.registers, self.tags)
        if incident is None:
            raise ValueError(f"inject {self.id} plays on an incident: its id is needed")
        if self.kind is InjectKind.UPDATE:
            return Update(incident, self.registers, tags_add=self.tags)
        return None if self.text is None else Comment(incident, self.text)


@dataclass(frozen=True, slots=True)
class Msel:
    name: str
    title: str
    version: int
    controller: str
    participants: tuple[str, ...]  # sorted
    duration_ms: int
    objectives: tuple[str, ...]
    briefing: str
    injects: tuple[Inject, ...]  # in file order, so by at_ms

    @property
    def control_title(self) -> str:
        return self.title + CONTROL_SUFFIX

    def inject(self, inject_id: str) -> Inject:
        for inject in self.injects:
            if inject.id == inject_id:
                return inject
        raise KeyError(inject_id)

    def incident_of(self, inject: Inject) -> str | None:
        """The id of the incident inject that `inject` plays on; None for the control incident."""
        return inject.id if inject.kind is InjectKind.INCIDENT else inject.incident


def offset(text: str) -> int:
    """ "HH:MM:SS" (hours may take three digits) in milliseconds."""
    match = _OFFSET.fullmatch(text) if type(text) is str else None
    if match is None:
        raise MselError(f"{text!r} is not an HH:MM:SS offset")
    hours, minutes, seconds = (int(group) for group in match.groups())
    return ((hours * 60 + minutes) * 60 + seconds) * 1000


def parse(data: bytes, attachment_sizes: Mapping[str, int] | None = None) -> Msel:
    """The MSEL in `data`, checked. `attachment_sizes` maps the paths of the files beside it
    to their sizes; without it, attachments are checked for their shape only."""
    if len(data) > limits.msel_bytes_max:
        raise MselError(f"MSEL: the file has {len(data)} bytes; at most {limits.msel_bytes_max} are allowed")
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise MselError(f"MSEL: the file is not UTF-8 ({error})") from None
    except tomllib.TOMLDecodeError as error:
        raise MselError(f"MSEL: not valid TOML: {error}") from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise MselError("MSEL: arrays or tables nested too deep") from None
    _known(document, ("exercise", "inject"), "MSEL")
    exercise = _table(document.get("exercise"), "[exercise]")
    where = "[exercise]"
    _known(exercise, _EXERCISE_KEYS, where)
    _present(exercise, _EXERCISE_KEYS, where)
    name = _text(exercise, "name", EXERCISE, where)
    title = _text(exercise, "title", TITLE, where)
    if len(title + CONTROL_SUFFIX) > limits.title_chars_max:
        raise MselError(
            f"{where}: 'title' has {len(title)} characters; at most {limits.title_chars_max - len(CONTROL_SUFFIX)} are "
            f"allowed, to leave room for {CONTROL_SUFFIX!r} in the control incident's title"
        )
    version = exercise["version"]
    if type(version) is not int or version < 1:
        raise MselError(f"{where}: 'version' {version!r} is not an integer >= 1")
    participants = _participants(exercise["participants"])
    controller = exercise["controller"]
    if controller not in participants:
        raise MselError(f"{where}: 'controller' {controller} is not a participant")
    duration_ms = _offset(exercise, "duration", where)
    if not 0 < duration_ms <= limits.msel_duration_s_max * 1000:
        raise MselError(f"{where}: 'duration' must be more than zero, at most {limits.msel_duration_s_max} s")
    objectives = _lines(exercise, "objectives", OBJECTIVE, OBJECTIVES_MAX, where)
    briefing = _text(exercise, "briefing", BRIEFING, where)
    injects = _injects(document.get("inject"), participants, duration_ms)
    if attachment_sizes is not None:
        _check_sizes(injects, attachment_sizes)
    return Msel(name, title, version, str(controller), participants, duration_ms, objectives, briefing, injects)


def attachment_paths(data: bytes) -> list[str]:
    """The distinct files the MSEL in `data` attaches, in file order: what the caller reads
    the sizes of before calling `parse` with them. MselError if the MSEL is invalid."""
    return list(dict.fromkeys(path for inject in parse(data).injects for path in inject.attachments))


def _injects(value: object, participants: tuple[str, ...], duration_ms: int) -> tuple[Inject, ...]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise MselError("MSEL: 'inject' must be an array of tables, [[inject]]")
    if not 0 < len(value) <= limits.msel_injects_max:
        raise MselError(f"MSEL: {len(value)} injects; from 1 to {limits.msel_injects_max} are allowed")
    by_id: dict[str, Inject] = {}
    previous_ms = 0
    for position, table in enumerate(value, 1):
        inject = _inject(table, position, participants)
        where = f"inject {inject.id}"
        if inject.id in by_id:
            raise MselError(f"{where}: 'id' is already used by an earlier inject")
        if inject.at_ms < previous_ms:
            raise MselError(f"{where}: 'at' is earlier than the previous inject's; injects are listed in time order")
        if inject.at_ms > duration_ms:
            raise MselError(f"{where}: 'at' is after the exercise's duration")
        if inject.incident is not None:
            target = by_id.get(inject.incident)
            if target is None or target.kind is not InjectKind.INCIDENT:
                raise MselError(f"{where}: 'incident' {inject.incident} is not an earlier inject of kind incident")
            # Those who cannot see an incident cannot be told about it.
            outside = sorted(set(inject.to) - set(target.to))
            if outside:
                raise MselError(f"{where}: 'to' names {', '.join(outside)}, not a target of incident {target.id}")
        by_id[inject.id] = inject
        previous_ms = inject.at_ms
    return tuple(by_id.values())


def _inject(table: Table, position: int, participants: tuple[str, ...]) -> Inject:
    inject_id = table.get("id")
    if type(inject_id) is not str or not _ID.fullmatch(inject_id):
        raise MselError(f"inject #{position}: 'id' {inject_id!r} is not 1 to 16 of A-Z, a-z, 0-9 and -")
    where = f"inject {inject_id}"
    _present(table, ("kind",), where)
    kind_name = table["kind"]
    if type(kind_name) is not str or kind_name not in _KEYS:
        raise MselError(f"{where}: 'kind' {kind_name!r} is not one of {', '.join(InjectKind)}")
    kind = InjectKind(kind_name)
    needs, may = _KEYS[kind]
    for key in table:
        if key not in _ANY_KEY:
            raise MselError(f"{where}: unknown key {key!r}")
        if key not in (*_COMMON, *needs, *may):
            raise MselError(f"{where}: {key!r} is not allowed in an inject of kind {kind}")
    _present(table, (*_COMMON, *needs), where)
    registers = _registers(table, where)
    tags = _tags(table, where) if "tags" in table else ()
    if kind is InjectKind.UPDATE and not (registers.items() or tags):
        raise MselError(f"{where}: an update must change at least one of {', '.join(map(repr, _CHANGES))}")
    incident = table.get("incident")
    if incident is not None and type(incident) is not str:
        raise MselError(f"{where}: 'incident' must be an inject id")
    return Inject(
        id=inject_id,
        at_ms=_offset(table, "at", where),
        to=_targets(table["to"], participants, where),
        kind=kind,
        incident=incident,
        registers=registers,
        tags=tags,
        text=_text(table, "text", COMMENT_TEXT, where) if "text" in table else None,
        attachments=_attachments(table, kind, where),
        expected=_lines(table, "expected", EXPECTED, limits.msel_expected_max, where),
    )


def _registers(table: Table, where: str) -> Registers:
    location = table.get("location")
    return Registers(
        title=_text(table, "title", TITLE, where) if "title" in table else None,
        category=_choice(table, "category", Category, where),
        severity=_choice(table, "severity", Severity, where),
        status=_choice(table, "status", Status, where),
        description=_text(table, "description", DESCRIPTION, where) if "description" in table else None,
        location=None if location is None else _location(location, where),
    )


def _location(value: object, where: str) -> Location:
    table = _table(value, f"{where}: 'location'")
    _known(table, _LOCATION_KEYS, f"{where}: 'location'")
    _present(table, ("lat", "lon"), f"{where}: 'location'")
    lat, lon = (_e7(table[name], name, where) for name in ("lat", "lon"))
    place = _wrap(where, "location", lambda: PLACE.check(table.get("place", "")))
    return _wrap(where, "location", lambda: Location(lat, lon, place))


def _e7(degrees: object, name: str, where: str) -> int:
    # A range check before rounding: TOML has nan and inf, and integers too large for a float.
    if not isinstance(degrees, int | float) or isinstance(degrees, bool) or not -180 <= degrees <= 180:
        raise MselError(f"{where}: 'location' {name} {degrees!r} is not a number of degrees")
    return round(degrees * 1e7)


def _choice(table: Table, key: str, enum: type[E], where: str) -> E | None:
    if key not in table:
        return None
    names = {member.name.lower(): member for member in enum}
    value = table[key]
    if type(value) is not str or value not in names:
        raise MselError(f"{where}: {key!r} {value!r} is not one of {', '.join(names)}")
    return names[value]


def _targets(value: object, participants: tuple[str, ...], where: str) -> tuple[str, ...]:
    if value in ("all", ["all"]):
        return participants
    if not isinstance(value, list) or not value:
        raise MselError(f"{where}: 'to' must be \"all\" or a list of participants")
    for code in value:
        if code not in participants:
            raise MselError(f"{where}: 'to' names {code}, not a participant")
        if value.count(code) > 1:
            raise MselError(f"{where}: 'to' names {code} twice")
    return tuple(sorted(str(code) for code in value))


def _participants(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not 0 < len(value) <= limits.addressees_max:
        raise MselError(f"[exercise]: 'participants' must list 1 to {limits.addressees_max} country codes")
    for code in value:
        _wrap("[exercise]", "participants", lambda code=code: check_country(code))  # the roster's rule
        if value.count(code) > 1:
            raise MselError(f"[exercise]: 'participants' names {code} twice")
    return tuple(sorted(map(str, value)))


def _tags(table: Table, where: str) -> tuple[str, ...]:
    tags = _strings(table, "tags", where)
    if len(tags) > limits.tags_max:
        raise MselError(f"{where}: 'tags' has {len(tags)} tags; at most {limits.tags_max} are allowed")
    for tag in tags:
        _wrap(where, "tags", lambda tag=tag: TAG.check(tag))
        if tags.count(tag) > 1:
            raise MselError(f"{where}: 'tags' names {tag!r} twice")
    return tuple(sorted(tags))


def _attachments(table: Table, kind: InjectKind, where: str) -> tuple[str, ...]:
    paths = _strings(table, "attachments", where) if "attachments" in table else []
    least = 1 if kind is InjectKind.MEDIA else 0
    if not least <= len(paths) <= limits.msel_attachments_per_inject_max:
        raise MselError(
            f"{where}: 'attachments' lists {len(paths)} files; "
            f"from {least} to {limits.msel_attachments_per_inject_max} are allowed"
        )
    for path in paths:
        try:
            for part in path.split("/"):
                FILE_NAME.check(part)
        except InvalidField as error:
            raise MselError(
                f"{where}: 'attachments' {path!r} is not a relative path inside the MSEL's folder: {error}"
            ) from None
        if paths.count(path) > 1:
            raise MselError(f"{where}: 'attachments' names {path!r} twice")
    return tuple(paths)


def _check_sizes(injects: tuple[Inject, ...], sizes: Mapping[str, int]) -> None:
    seen: set[str] = set()
    total = 0
    for inject in injects:
        for path in inject.attachments:
            if path not in sizes:
                raise MselError(f"inject {inject.id}: 'attachments' {path!r} is not a file beside the MSEL")
            if sizes[path] < 1:
                raise MselError(f"inject {inject.id}: 'attachments' {path!r} is empty; media holds at least a byte")
            if path not in seen:
                seen.add(path)
                total += sizes[path]
            if total > limits.msel_attachments_bytes_max:
                raise MselError(
                    f"inject {inject.id}: 'attachments' bring the MSEL's files to {total} bytes; "
                    f"at most {limits.msel_attachments_bytes_max} are allowed"
                )


def _offset(table: Table, key: str, where: str) -> int:
    value = table[key]
    if type(value) is not str:  # an unquoted 00:05:00 is a TOML time of day
        raise MselError(f'{where}: {key!r} must be a "HH:MM:SS" string')
    try:
        return offset(value)
    except MselError as error:
        raise MselError(f"{where}: {key!r}: {error}") from None


def _lines(table: Table, key: str, rule: TextRule, count_max: int, where: str) -> tuple[str, ...]:
    lines = _strings(table, key, where)
    if not 0 < len(lines) <= count_max:
        raise MselError(f"{where}: {key!r} has {len(lines)} lines; from 1 to {count_max} are allowed")
    return tuple(_wrap(where, key, lambda line=line: rule.check(line)) for line in lines)


def _text(table: Table, key: str, rule: TextRule, where: str) -> str:
    return _wrap(where, key, lambda: rule.check(table[key]))


def _strings(table: Table, key: str, where: str) -> list[str]:
    value = table[key]
    if not isinstance(value, list) or not all(type(item) is str for item in value):
        raise MselError(f"{where}: {key!r} must be a list of strings")
    return [str(item) for item in value]


def _wrap(where: str, key: str, check: Callable[[], T]) -> T:
    """The protocol's verdict (InvalidField) as a MselError that says where."""
    try:
        return check()
    except InvalidField as error:
        raise MselError(f"{where}: {key!r}: {error}") from None


def _table(value: object, where: str) -> Table:
    if not isinstance(value, dict):
        raise MselError(f"{where}: missing, or not a table")
    return value


def _known(table: Table, keys: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in keys:
            raise MselError(f"{where}: unknown key {key!r}")


def _present(table: Table, keys: tuple[str, ...], where: str) -> None:
    for key in keys:
        if key not in table:
            raise MselError(f"{where}: {key!r} is missing")
