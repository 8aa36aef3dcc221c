import tomllib
from pathlib import Path

import pytest
import tomli_w
from hypothesis import given
from hypothesis import strategies as st

import exercise
from exercise.msel import (
    CONTROL_SUFFIX,
    OBJECTIVES_MAX,
    Inject,
    InjectKind,
    Msel,
    MselError,
    attachment_paths,
    offset,
    parse,
)
from protocol import limits
from protocol.body import Category, Comment, Location, Open, Registers, Severity, Status, Update

MINIMAL = b'''
[exercise]
name = "drill-prague"
title = "A drill"
version = 2
controller = "CZ"
participants = ["DE", "CZ", "AT"]
duration = "01:00:00"
objectives = ["Share the alert within 5 minutes"]
briefing = """
A robbery, then a chase."""

[[inject]]
id = "M01"
at = "00:00:00"
to = ["DE", "CZ"]
kind = "incident"
title = "Armed robbery"
category = "manhunt"
severity = "high"
status = "monitoring"
description = "Two suspects.\\tArmed."
location = { lat = 50.0318, lon = 14.4912, place = "Chodov" }
tags = ["vehicle", "armed"]
attachments = ["files/cctv.png"]
expected = ["CZ: acknowledge", "DE: watch the border"]

[[inject]]
id = "M02"
at = "00:05:00"
to = ["DE"]
kind = "update"
incident = "M01"
severity = "critical"
tags = ["border"]
expected = ["DE: raise the alert"]

[[inject]]
id = "M03"
at = "00:05:00"
to = "all"
kind = "message"
text = "All OCs: stand by."
expected = ["Every OC: acknowledge"]

[[inject]]
id = "M04"
at = "00:10:00"
to = ["CZ"]
kind = "media"
incident = "M01"
text = "A still from the mall's CCTV"
attachments = ["files/cctv.png", "files/route.png"]
expected = ["CZ: share the still"]
'''
SIZES = {"files/cctv.png": 1000, "files/route.png": 2000, "files/unused.md": 5}
INCIDENT_ID = bytes(range(32))


def document() -> dict:
    return tomllib.loads(MINIMAL.decode())


def load(doc: dict, sizes: dict[str, int] | None = None) -> Msel:
    return parse(tomli_w.dumps(doc).encode(), sizes)


def refused(doc: dict, *fragments: str, sizes: dict[str, int] | None = None) -> None:
    with pytest.raises(MselError) as caught:
        load(doc, sizes)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_a_minimal_msel_parses_to_the_expected_values():
    msel = parse(MINIMAL, SIZES)
    assert (msel.name, msel.title, msel.version, msel.controller) == ("drill-prague", "A drill", 2, "CZ")
    assert msel.participants == ("AT", "CZ", "DE")
    assert msel.duration_ms == 3_600_000
    assert msel.objectives == ("Share the alert within 5 minutes",)
    assert msel.briefing == "A robbery, then a chase."
    assert msel.control_title == "A drill" + CONTROL_SUFFIX
    assert [inject.id for inject in msel.injects] == ["M01", "M02", "M03", "M04"]
    assert msel.injects[0] == Inject(
        id="M01",
        at_ms=0,
        to=("CZ", "DE"),
        kind=InjectKind.INCIDENT,
        incident=None,
        registers=Registers(
            title="Armed robbery",
            category=Category.MANHUNT,
            severity=Severity.HIGH,
            status=Status.MONITORING,
            description="Two suspects.\tArmed.",
            location=Location(500_318_000, 144_912_000, "Chodov"),
        ),
        tags=("armed", "vehicle"),
        text=None,
        attachments=("files/cctv.png",),
        expected=("CZ: acknowledge", "DE: watch the border"),
    )
    update, message, media = msel.injects[1:]
    assert (update.at_ms, update.incident, update.registers, update.tags) == (
        300_000,
        "M01",
        Registers(severity=Severity.CRITICAL),
        ("border",),
    )
    assert (message.incident, message.registers, message.text) == (None, Registers(), "All OCs: stand by.")
    assert media.attachments == ("files/cctv.png", "files/route.png")
    assert media.text == "A still from the mall's CCTV"


def test_all_expands_to_every_participant_as_a_string_or_a_list():
    doc = document()
    doc["inject"][2]["to"] = ["all"]
    assert load(doc).injects[2].to == ("AT", "CZ", "DE")
    assert parse(MINIMAL).injects[2].to == ("AT", "CZ", "DE")


def test_all_mixed_with_country_codes_is_refused():
    doc = document()
    doc["inject"][2]["to"] = ["all", "CZ"]
    refused(doc, "inject M03: 'to' names all, not a participant")


def test_an_inject_is_found_by_id_and_an_unknown_id_is_a_key_error():
    msel = parse(MINIMAL)
    assert msel.inject("M02") is msel.injects[1]
    with pytest.raises(KeyError):
        msel.inject("M99")


def test_incident_of_names_the_incident_an_inject_plays_on():
    msel = parse(MINIMAL)
    assert [msel.incident_of(inject) for inject in msel.injects] == ["M01", "M01", None, "M01"]


def test_an_incident_inject_opens_an_incident_with_its_registers_and_tags():
    inject = parse(MINIMAL).inject("M01")
    assert inject.body(None) == Open(inject.registers, ("armed", "vehicle"))
    with pytest.raises(ValueError, match="opens its own incident"):
        inject.body(INCIDENT_ID)


def test_an_update_inject_updates_the_incident_and_adds_its_tags():
    body = parse(MINIMAL).inject("M02").body(INCIDENT_ID)
    assert body == Update(INCIDENT_ID, Registers(severity=Severity.CRITICAL), tags_add=("border",))


def test_a_message_inject_is_a_comment_and_needs_the_incident_id():
    inject = parse(MINIMAL).inject("M03")
    assert inject.body(INCIDENT_ID) == Comment(INCIDENT_ID, "All OCs: stand by.")
    with pytest.raises(ValueError, match="its id is needed"):
        inject.body(None)


def test_a_media_inject_comments_its_caption_and_without_one_has_no_body():
    assert parse(MINIMAL).inject("M04").body(INCIDENT_ID) == Comment(INCIDENT_ID, "A still from the mall's CCTV")
    doc = document()
    del doc["inject"][3]["text"]
    assert load(doc).inject("M04").body(INCIDENT_ID) is None


def test_attachment_paths_lists_each_file_once_in_file_order():
    assert attachment_paths(MINIMAL) == ["files/cctv.png", "files/route.png"]


@pytest.mark.parametrize(
    ("text", "ms"), [("00:00:00", 0), ("01:02:03", 3_723_000), ("168:00:00", 604_800_000), ("99:59:59", 359_999_000)]
)
def test_an_offset_is_read_in_milliseconds(text, ms):
    assert offset(text) == ms


@pytest.mark.parametrize("text", ["1:00:00", "00:60:00", "00:00:60", "00:00", "00:00:00.5", " 00:00:00", "١٢:00:00"])
def test_an_offset_of_another_shape_is_refused(text):
    with pytest.raises(MselError, match="is not an HH:MM:SS offset"):
        offset(text)


def test_a_file_over_the_size_limit_is_refused():
    with pytest.raises(MselError, match="at most"):
        parse(b"#" * (limits.msel_bytes_max + 1))


def test_a_file_that_is_not_utf8_is_refused():
    with pytest.raises(MselError, match="not UTF-8"):
        parse(MINIMAL.replace(b"A drill", b"A dr\xffill"))


def test_a_toml_syntax_error_is_refused_with_tomllibs_message():
    with pytest.raises(MselError, match=r"not valid TOML: .*\(at line 2"):
        parse(b"[exercise]\nname = \n")


def test_an_unknown_top_level_table_is_refused_naming_it():
    doc = document()
    doc["injects"] = doc.pop("inject")
    refused(doc, "MSEL: unknown key 'injects'")


def test_an_unknown_exercise_key_is_refused_naming_it():
    doc = document()
    doc["exercise"]["objective"] = ["x"]
    refused(doc, "[exercise]: unknown key 'objective'")


@pytest.mark.parametrize("key", ["name", "title", "version", "controller", "participants", "duration", "briefing"])
def test_a_missing_exercise_key_is_refused_naming_it(key):
    doc = document()
    del doc["exercise"][key]
    refused(doc, f"[exercise]: {key!r} is missing")


def test_a_misspelt_inject_key_is_refused_naming_the_inject_and_the_key():
    doc = document()
    doc["inject"][0]["sevrity"] = "low"
    refused(doc, "inject M01: unknown key 'sevrity'")


@pytest.mark.parametrize(
    ("index", "key", "value"),
    [(0, "text", "x"), (0, "incident", "M01"), (1, "text", "x"), (2, "title", "x"), (3, "tags", ["x"])],
)
def test_a_key_of_another_kind_is_refused_naming_the_inject_and_the_key(index, key, value):
    doc = document()
    doc["inject"][index][key] = value
    refused(doc, f"inject {doc['inject'][index]['id']}: {key!r} is not allowed in an inject of kind")


@pytest.mark.parametrize(
    ("index", "key"),
    [
        (0, "at"),
        (0, "to"),
        (0, "expected"),
        (0, "title"),
        (0, "category"),
        (0, "severity"),
        (1, "incident"),
        (2, "text"),
        (3, "incident"),
        (3, "attachments"),
    ],
)
def test_a_key_the_kind_needs_is_refused_when_missing(index, key):
    doc = document()
    del doc["inject"][index][key]
    refused(doc, f"inject {doc['inject'][index]['id']}: {key!r} is missing")


def test_an_inject_without_kind_or_of_an_unknown_kind_is_refused():
    doc = document()
    doc["inject"][1]["kind"] = "alert"
    refused(doc, "inject M02: 'kind' 'alert' is not one of incident, update, message, media")
    del doc["inject"][1]["kind"]
    refused(doc, "inject M02: 'kind' is missing")


@pytest.mark.parametrize("bad", ["", "M 01", "M01/", "A" * 17, "Ä1"])
def test_an_inject_id_of_the_wrong_shape_is_refused_naming_its_position(bad):
    doc = document()
    doc["inject"][1]["id"] = bad
    refused(doc, "inject #2: 'id'")


def test_a_repeated_inject_id_is_refused():
    doc = document()
    doc["inject"][2]["id"] = "M02"
    refused(doc, "inject M02: 'id' is already used")


def test_injects_out_of_time_order_are_refused():
    doc = document()
    doc["inject"][2]["at"] = "00:04:59"
    refused(doc, "inject M03: 'at' is earlier than the previous inject's")


def test_an_inject_after_the_duration_is_refused():
    doc = document()
    doc["inject"][3]["at"] = "01:00:01"
    refused(doc, "inject M04: 'at' is after the exercise's duration")


def test_an_unquoted_toml_time_is_refused():
    with pytest.raises(MselError, match="inject M02: 'at' must be a \"HH:MM:SS\" string"):
        parse(MINIMAL.replace(b'at = "00:05:00"', b"at = 00:05:00", 1))


@pytest.mark.parametrize("duration", ["00:00:00", "168:00:01", "7 days"])
def test_a_duration_of_zero_or_beyond_the_limit_is_refused(duration):
    doc = document()
    doc["exercise"]["duration"] = duration
    refused(doc, "[exercise]: 'duration'")


def test_an_inject_aimed_at_a_non_participant_is_refused_naming_it():
    doc = document()
    doc["inject"][2]["to"] = ["CZ", "XX"]
    refused(doc, "inject M03: 'to' names XX, not a participant")


def test_an_inject_aimed_twice_at_a_participant_or_at_nobody_is_refused():
    doc = document()
    doc["inject"][2]["to"] = ["CZ", "CZ"]
    refused(doc, "inject M03: 'to' names CZ twice")
    doc["inject"][2]["to"] = []
    refused(doc, "inject M03: 'to' must be \"all\" or a list of participants")


def test_a_controller_who_is_not_a_participant_is_refused():
    doc = document()
    doc["exercise"]["controller"] = "FR"
    refused(doc, "[exercise]: 'controller' FR is not a participant")


@pytest.mark.parametrize(("participants", "fragment"), [(["CZ", "XX"], "'XX'"), (["CZ", "cz"], "'cz'"), ([], "1 to")])
def test_participants_that_are_not_country_codes_are_refused(participants, fragment):
    doc = document()
    doc["exercise"]["participants"] = participants
    refused(doc, "[exercise]: 'participants'", fragment)


def test_a_participant_listed_twice_is_refused():
    doc = document()
    doc["exercise"]["participants"].append("AT")
    refused(doc, "[exercise]: 'participants' names AT twice")


def test_eu_is_a_participant_like_a_country():
    doc = document()
    doc["exercise"]["participants"].append("EU")
    assert "EU" in load(doc).participants


@pytest.mark.parametrize(("incident", "index"), [("M99", 1), ("M03", 3), ("M04", 3), ("M02", 3)])
def test_an_inject_on_anything_but_an_earlier_incident_inject_is_refused(incident, index):
    doc = document()
    doc["inject"][index]["incident"] = incident
    where = f"inject {doc['inject'][index]['id']}"
    refused(doc, f"{where}: 'incident' {incident} is not an earlier inject of kind incident")


def test_an_inject_aimed_beyond_its_incidents_targets_is_refused():
    doc = document()
    doc["inject"][1]["to"] = ["AT", "DE"]
    refused(doc, "inject M02: 'to' names AT, not a target of incident M01")


def test_an_update_that_changes_nothing_is_refused():
    doc = document()
    del doc["inject"][1]["severity"]
    doc["inject"][1]["tags"] = []
    refused(doc, "inject M02: an update must change at least one of")


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("title", "Two\nlines", "'title': title contains U+000A"),
        ("title", "x" * (limits.title_chars_max + 1), "'title': title has"),
        ("title", "   ", "'title': title must not be blank"),
        ("description", "a\x00b", "'description': description contains U+0000"),
        ("category", "Manhunt", "'category' 'Manhunt' is not one of cbrne, manhunt"),
        ("severity", 3, "'severity' 3 is not one of low"),
        ("status", "done", "'status' 'done' is not one of open, monitoring, resolved, closed"),
        ("tags", ["a", "a"], "'tags' names 'a' twice"),
        ("tags", ["a b\tc"], "'tags': tag contains U+0009"),
        ("tags", [f"t{i}" for i in range(limits.tags_max + 1)], "'tags' has 65 tags"),
        ("tags", "armed", "'tags' must be a list of strings"),
        ("location", {"lat": 50.0, "lng": 14.0}, "'location': unknown key 'lng'"),
        ("location", {"lat": 50.0}, "'location': 'lon' is missing"),
        ("location", {"lat": 91.0, "lon": 14.0}, "'location': location is outside"),
        ("location", {"lat": float("nan"), "lon": 14.0}, "'location' lat nan is not a number of degrees"),
        ("location", {"lat": True, "lon": 14.0}, "'location' lat True"),
        ("location", {"lat": 50, "lon": 14, "place": "a\nb"}, "'location': location place contains U+000A"),
        ("location", "Prague", "'location': missing, or not a table"),
    ],
)
def test_an_incident_field_breaking_the_protocols_rules_is_refused_naming_the_key(key, value, fragment):
    doc = document()
    doc["inject"][0][key] = value
    refused(doc, f"inject M01: {fragment}")


def test_a_message_text_follows_the_comment_rule():
    doc = document()
    doc["inject"][2]["text"] = " \n "
    refused(doc, "inject M03: 'text': text must not be blank")


@pytest.mark.parametrize(
    "path", ["../secret.png", "/etc/passwd", "files\\x.png", "files//x.png", "files/", "C:/x.png", "files/.hidden"]
)
def test_an_attachment_outside_the_msel_folder_is_refused(path):
    doc = document()
    doc["inject"][0]["attachments"] = [path]
    refused(doc, f"inject M01: 'attachments' {path!r} is not a relative path inside the MSEL's folder")


def test_more_attachments_than_the_limit_or_a_media_inject_without_any_are_refused():
    doc = document()
    doc["inject"][0]["attachments"] = [f"files/{i}.png" for i in range(limits.msel_attachments_per_inject_max + 1)]
    refused(doc, "inject M01: 'attachments' lists 9 files; from 0 to 8")
    doc = document()
    doc["inject"][3]["attachments"] = []
    refused(doc, "inject M04: 'attachments' lists 0 files; from 1 to 8")


def test_an_attachment_named_twice_in_one_inject_is_refused():
    doc = document()
    doc["inject"][3]["attachments"] = ["files/cctv.png", "files/cctv.png"]
    refused(doc, "inject M04: 'attachments' names 'files/cctv.png' twice")


def test_an_attachment_not_beside_the_msel_or_empty_is_refused():
    refused(document(), "inject M01: 'attachments' 'files/cctv.png' is not a file beside the MSEL", sizes={})
    sizes = {"files/cctv.png": 1}
    refused(document(), "inject M04: 'attachments' 'files/route.png' is not a file beside the MSEL", sizes=sizes)
    sizes = {**SIZES, "files/route.png": 0}
    refused(document(), "inject M04: 'attachments' 'files/route.png' is empty", sizes=sizes)


def test_attachments_over_the_total_limit_are_refused_and_a_shared_file_counts_once():
    half = limits.msel_attachments_bytes_max // 2
    assert load(document(), {"files/cctv.png": half, "files/route.png": half}).injects
    sizes = {"files/cctv.png": half, "files/route.png": half + 1}
    refused(document(), "inject M04: 'attachments' bring the MSEL's files to", sizes=sizes)


@pytest.mark.parametrize("count", [0, limits.msel_expected_max + 1])
def test_expected_actions_must_number_one_to_the_limit(count):
    doc = document()
    doc["inject"][1]["expected"] = [f"action {i}" for i in range(count)]
    refused(doc, f"inject M02: 'expected' has {count} lines")


def test_an_expected_action_is_one_line():
    doc = document()
    doc["inject"][1]["expected"] = ["DE: raise\nthe alert"]
    refused(doc, "inject M02: 'expected': expected action contains U+000A")


@pytest.mark.parametrize("count", [0, OBJECTIVES_MAX + 1])
def test_objectives_must_number_one_to_twenty(count):
    doc = document()
    doc["exercise"]["objectives"] = [f"objective {i}" for i in range(count)]
    refused(doc, f"[exercise]: 'objectives' has {count} lines")


@pytest.mark.parametrize("count", [0, limits.msel_injects_max + 1])
def test_injects_must_number_one_to_the_limit(count):
    doc = document()
    doc["inject"] = [{**doc["inject"][2], "id": f"I{i}"} for i in range(count)]
    refused(doc, f"MSEL: {count} injects")


def test_injects_as_a_single_table_are_refused():
    doc = document()
    doc["inject"] = doc["inject"][0]
    refused(doc, "MSEL: 'inject' must be an array of tables")


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("name", "x" * (limits.exercise_chars_max + 1), "'name': exercise has"),
        ("title", "x" * (limits.title_chars_max - len(CONTROL_SUFFIX) + 1), "'title' has 182 characters; at most 181"),
        ("version", 0, "'version' 0 is not an integer >= 1"),
        ("version", True, "'version' True"),
        ("briefing", "", "'briefing': briefing must not be empty"),
    ],
)
def test_an_exercise_field_breaking_its_rule_is_refused_naming_the_key(key, value, fragment):
    doc = document()
    doc["exercise"][key] = value
    refused(doc, f"[exercise]: {fragment}")


def test_the_longest_title_still_leaves_a_valid_control_title():
    doc = document()
    doc["exercise"]["title"] = "x" * (limits.title_chars_max - len(CONTROL_SUFFIX))
    assert len(load(doc).control_title) == limits.title_chars_max


# --- property: any valid MSEL, written as TOML, parses back to what was written ---

CODES = ["AT", "BE", "CZ", "DE", "ES", "EU", "FR", "IT", "NL", "PL", "PT", "SE"]
PATHS = ["files/a.png", "files/b c.csv", "notes.md", "files/sub/d.jpg", "ü.txt"]
_LINE_CHARS = st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"])


def line(max_size: int) -> st.SearchStrategy[str]:
    return st.text(_LINE_CHARS, min_size=1, max_size=max_size).filter(lambda s: not s.isspace())


free_text = st.text(st.one_of(_LINE_CHARS, st.sampled_from("\n\t")), min_size=1, max_size=80).filter(
    lambda s: not s.isspace()
)
lines = st.lists(line(60), min_size=1, max_size=3)


def clock(seconds: int) -> str:
    return f"{seconds // 3600:02}:{seconds // 60 % 60:02}:{seconds % 60:02}"


@st.composite
def changes(draw: st.DrawFn, opening: bool) -> tuple[dict, Registers, tuple[str, ...]]:
    """Register fields as TOML values, as Registers, and tags: all three of title, category
    and severity when opening an incident, a non-empty subset of the fields otherwise."""
    names = ["title", "category", "severity", "status", "description", "location", "tags"]
    chosen = set(draw(st.lists(st.sampled_from(names), min_size=1, unique=True)))
    if opening:
        chosen |= {"title", "category", "severity"}
    toml: dict = {}
    fields: dict = {}
    if "title" in chosen:
        toml["title"] = fields["title"] = draw(line(limits.title_chars_max))
    for name, enum in (("category", Category), ("severity", Severity), ("status", Status)):
        if name in chosen:
            fields[name] = draw(st.sampled_from(list(enum)))
            toml[name] = fields[name].name.lower()
    if "description" in chosen:
        toml["description"] = fields["description"] = draw(free_text)
    if "location" in chosen:
        lat, lon = draw(st.integers(-(90 * 10**7), 90 * 10**7)), draw(st.integers(-(180 * 10**7), 180 * 10**7))
        place = draw(st.one_of(st.just(""), line(limits.place_chars_max)))
        toml["location"] = {"lat": lat / 1e7, "lon": lon / 1e7, "place": place}
        fields["location"] = Location(lat, lon, place)
    tags: tuple[str, ...] = ()
    if "tags" in chosen:
        tags = tuple(draw(st.lists(line(limits.tag_chars_max), min_size=1, max_size=4, unique=True)))
        toml["tags"] = list(tags)
    return toml, Registers(**fields), tuple(sorted(tags))


@st.composite
def msels(draw: st.DrawFn) -> tuple[dict, Msel]:
    participants = tuple(sorted(draw(st.sets(st.sampled_from(CODES), min_size=1, max_size=6))))
    duration_s = draw(st.integers(1, limits.msel_duration_s_max))
    injects: list[Inject] = []
    tables: list[dict] = []
    for index, at_s in enumerate(sorted(draw(st.lists(st.integers(0, duration_s), min_size=1, max_size=8)))):
        incidents = [inject for inject in injects if inject.kind is InjectKind.INCIDENT]
        # Mostly an incident first, so that updates and media have something to play on.
        kind = draw(
            st.sampled_from(list(InjectKind) if incidents else [*[InjectKind.INCIDENT] * 3, InjectKind.MESSAGE])
        )
        # An update or media inject plays on an incident; a message may, or on the control incident.
        plays_on = kind in (InjectKind.UPDATE, InjectKind.MEDIA) or (
            kind is InjectKind.MESSAGE and bool(incidents) and draw(st.booleans())
        )
        on = draw(st.sampled_from(incidents)) if plays_on else None
        pool = on.to if on else participants
        to = tuple(sorted(draw(st.sets(st.sampled_from(pool), min_size=1))))
        inject_id = f"I-{index}"
        table: dict = {"id": inject_id, "at": clock(at_s), "kind": str(kind)}
        table["to"] = "all" if to == participants and draw(st.booleans()) else list(to)
        registers, tags, text = Registers(), (), None
        if kind in (InjectKind.INCIDENT, InjectKind.UPDATE):
            fields, registers, tags = draw(changes(kind is InjectKind.INCIDENT))
            table |= fields
        if kind is InjectKind.MESSAGE or (kind is InjectKind.MEDIA and draw(st.booleans())):
            table["text"] = text = draw(free_text)
        least = 1 if kind is InjectKind.MEDIA else 0
        attachments = tuple(draw(st.lists(st.sampled_from(PATHS), min_size=least, max_size=3, unique=True)))
        if attachments or draw(st.booleans()):
            table["attachments"] = list(attachments)
        if on:
            table["incident"] = on.id
        table["expected"] = list(expected := tuple(draw(lines)))
        tables.append(table)
        incident = on.id if on else None
        injects.append(Inject(inject_id, at_s * 1000, to, kind, incident, registers, tags, text, attachments, expected))
    msel = Msel(
        name=draw(line(limits.exercise_chars_max)),
        title=draw(line(100)),
        version=draw(st.integers(1, 10**6)),
        controller=draw(st.sampled_from(participants)),
        participants=participants,
        duration_ms=duration_s * 1000,
        objectives=tuple(draw(lines)),
        briefing=draw(free_text),
        injects=tuple(injects),
    )
    header = {
        "name": msel.name,
        "title": msel.title,
        "version": msel.version,
        "controller": msel.controller,
        "participants": draw(st.permutations(participants)),
        "duration": clock(duration_s),
        "objectives": list(msel.objectives),
        "briefing": msel.briefing,
    }
    return {"exercise": header, "inject": tables}, msel


@given(msels())
def test_any_valid_msel_written_as_toml_parses_back_to_what_was_written(case):
    doc, msel = case
    data = tomli_w.dumps(doc).encode()
    assert parse(data, dict.fromkeys(PATHS, 1)) == msel
    assert attachment_paths(data) == list(dict.fromkeys(p for inject in msel.injects for p in inject.attachments))
    for inject in msel.injects:
        body = inject.body(None if inject.kind is InjectKind.INCIDENT else INCIDENT_ID)
        assert body is not None or (inject.kind is InjectKind.MEDIA and inject.text is None)


# --- the MSELs shipped in exercise/msels/ ---

SHIPPED = sorted(Path(exercise.__file__).parent.glob("msels/*/msel.toml"))


@pytest.mark.parametrize(
    "path",
    [pytest.param(path, id=path.parent.name) for path in SHIPPED]
    or [pytest.param(None, marks=pytest.mark.skip(reason="no MSEL shipped in exercise/msels/ yet"))],
)
def test_every_shipped_msel_parses_with_the_files_beside_it(path):
    folder = path.parent
    sizes = {f.relative_to(folder).as_posix(): f.stat().st_size for f in folder.rglob("*") if f.is_file()}
    msel = parse(path.read_bytes(), sizes)
    assert set(attachment_paths(path.read_bytes())) <= set(sizes)
    assert msel.injects
