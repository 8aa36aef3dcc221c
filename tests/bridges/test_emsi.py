"""EMSI (SAMU-Hub eda:1.9 profile): exports valid against the kit's EMSI.xsd, imports of
every public example, our own documents back to the same fields, refusals naming the
first wrong element. The incident factory and strategy here serve test_cot.py too."""

from datetime import UTC, datetime
from itertools import product

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from bridges import emsi
from bridges.model import CATEGORIES, SEVERITIES, STATUSES, Context, Imported, Incident, MediaItem
from bridges.xml import XmlRefused
from protocol import limits
from protocol.body import DESCRIPTION, FILE_NAME, LAT_E7_MAX, LON_E7_MAX, PLACE, TAG, TITLE
from protocol.entry import EXERCISE
from tests.protocol.strategies import valid_text

from . import kit
from .kit import needs_kit

CTX = Context("OC Lyon", "FR", "12D3KooWLyon", "https://oc-lyon.example/v1/media", 1_704_816_000_000)
ID = "ab" * 32
CREATED = "2024-01-09T15:00:00.000Z"
UPDATED = "2024-01-09T16:30:00.250Z"
PHOTO: MediaItem = {"id": "cd" * 32, "name": "scene.jpg", "mime": "image/jpeg", "size": 10, "sha256": "00" * 32}
REPORT: MediaItem = {"id": "ef" * 32, "name": "report.pdf", "mime": "application/pdf", "size": 10, "sha256": "11" * 32}
HARD_TEXT = 'Évacuation <gare> & "quai" ]]> 🚨👮🏽‍♀️ مرحبا בעברית'


def incident(**changes: object) -> Incident:
    """A located, real, open incident; `changes` replace fields."""
    base: Incident = {
        "id": ID,
        "title": "Suspicious package at the station",
        "description": "Unattended bag on platform 3.\nArea cordoned.",
        "category": "terrorism",
        "severity": "high",
        "status": "open",
        "location": {"lat": 45.760169, "lon": 4.8306081, "place": "Lyon Part-Dieu"},
        "tags": ["station", "ied?"],
        "exercise": None,
        "created_at": CREATED,
        "updated_at": UPDATED,
        "author": {"name": "OC Lyon", "country": "FR", "peer_id": "12D3KooWLyon", "public_key": "aa" * 32},
        "operator": "J. Martin",
        "comments": None,
        "media": [],
        "origin": None,
    }
    return {**base, **changes}  # type: ignore[typeddict-item]


def rfc3339(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@st.composite
def incidents(draw: st.DrawFn) -> Incident:
    """Any valid incident as the API shows it (texts from the whole of Unicode, per our rules)."""
    created = draw(st.integers(1_500_000_000_000, 2_000_000_000_000))
    updated = created + draw(st.sampled_from([0, 1, 3_600_000]) | st.integers(0, 10**10))
    location = draw(
        st.none()
        | st.fixed_dictionaries(
            {
                "lat": st.integers(-LAT_E7_MAX, LAT_E7_MAX).map(lambda e7: e7 / 1e7),
                "lon": st.integers(-LON_E7_MAX, LON_E7_MAX).map(lambda e7: e7 / 1e7),
                "place": valid_text(PLACE, 20),
            }
        )
    )
    media = draw(
        st.lists(
            st.fixed_dictionaries(
                {"name": valid_text(FILE_NAME, 12), "mime": st.sampled_from(["image/png", "video/mp4", "text/plain"])}
            ),
            max_size=2,
        )
    )
    return incident(
        id=draw(st.binary(min_size=32, max_size=32)).hex(),
        title=draw(valid_text(TITLE)),
        description=draw(valid_text(DESCRIPTION, 60)),
        category=draw(st.sampled_from(list(CATEGORIES))),
        severity=draw(st.sampled_from(list(SEVERITIES))),
        status=draw(st.sampled_from(list(STATUSES))),
        location=location,
        tags=sorted(draw(st.sets(valid_text(TAG, 8), max_size=4))),
        exercise=draw(st.none() | valid_text(EXERCISE, 20)),
        created_at=rfc3339(created),
        updated_at=rfc3339(updated),
        media=[{"id": f"{i:064x}", "size": 1, "sha256": "00" * 32, **m} for i, m in enumerate(media)],
    )


def range_of_incidents() -> list[Incident]:
    """Every category, severity and status; with and without location; real and exercise;
    hard texts; media."""
    cases = [
        incident(category=c, severity=s, status=t, exercise=None if i % 2 else "Blue Lynx 2025")
        for i, (c, s, t) in enumerate(product(CATEGORIES, SEVERITIES, STATUSES))
    ]
    return [
        *cases,
        incident(location=None),
        incident(location={"lat": -90.0, "lon": 180.0, "place": ""}),
        incident(title=HARD_TEXT, description=HARD_TEXT + "\n\ttab", tags=[HARD_TEXT[:64]]),
        incident(location={"lat": 31.7767, "lon": 35.2345, "place": "القدس ירושלים"}, exercise="تمرين 🚨"),
        incident(description="", tags=[]),
        incident(media=[PHOTO, REPORT]),
        incident(created_at=UPDATED),
        incident(title="t" * limits.title_chars_max, description="d" * limits.text_chars_max),
    ]


def the_only(imported: list[Imported]) -> Imported:
    assert len(imported) == 1
    return imported[0]


def at(root: etree._Element, path: str) -> str | None:
    """The text at an EMSI path ("CONTEXT/ID"), or None."""
    return root.findtext("/".join(f"{{{emsi.NS}}}{step}" for step in path.split("/")))


def every(root: etree._Element, path: str) -> list[etree._Element]:
    return root.findall("/".join(f"{{{emsi.NS}}}{step}" for step in path.split("/")))


def message(
    mode: str = "ACTUAL", msgtype: str = "ALERT", context: str = "", event: str = "", etype: str = "", name: str = ""
) -> bytes:
    """A minimal EMSI document from another system; `context`/`event` go after the required
    elements (and ETYPE), `name` is EVENT/NAME's content."""
    etype = etype or "<CATEGORY>PSW</CATEGORY><ACTOR>PPL</ACTOR><LOCTYPE>OTH</LOCTYPE>"
    name = f"<NAME>{name}</NAME>" if name else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><emsi xmlns="{emsi.NS}"><CONTEXT><ID>msg-1</ID><MODE>{mode}</MODE>'
        f"<MSGTYPE>{msgtype}</MSGTYPE>{context}</CONTEXT>"
        f"<EVENT><ID>EV-42</ID>{name}<ETYPE>{etype}</ETYPE>{event}</EVENT></emsi>"
    ).encode()


# --- export ---


@needs_kit
@pytest.mark.parametrize("case", range_of_incidents(), ids=lambda i: f"{i['category']}-{i['severity']}-{i['status']}")
def test_every_export_over_a_range_of_incidents_is_valid_against_the_profile(case: Incident) -> None:
    assert kit.errors("emsi", emsi.export(case, CTX)) == []


def test_an_export_is_utf8_with_an_xml_declaration_in_the_profile_namespace() -> None:
    document = emsi.export(incident(), CTX)
    assert document.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert etree.fromstring(document).tag == f"{{{emsi.NS}}}emsi"


def test_the_message_id_is_stable_per_state_and_updates_link_to_the_first_message() -> None:
    first = etree.fromstring(emsi.export(incident(updated_at=CREATED), CTX))
    later = etree.fromstring(emsi.export(incident(), CTX))
    again = etree.fromstring(emsi.export(incident(), CTX))
    assert at(first, "CONTEXT/MSGTYPE") == "ALERT"
    assert (every(first, "CONTEXT/LINK") or None) is None
    assert at(later, "CONTEXT/MSGTYPE") == "UPDATE"
    assert at(later, "CONTEXT/ID") == at(again, "CONTEXT/ID")
    assert at(later, "CONTEXT/ID") != at(first, "CONTEXT/ID")
    assert at(later, "CONTEXT/LINK/ID") == at(first, "CONTEXT/ID")
    assert at(later, "CONTEXT/LINK/LINK_ROLE") == "SPRSDS"


def test_a_closed_incident_is_a_cancel_and_the_fields_sit_where_the_notes_say() -> None:
    root = etree.fromstring(emsi.export(incident(status="closed", severity="critical", media=[PHOTO, REPORT]), CTX))

    assert at(root, "CONTEXT/MSGTYPE") == "CANCEL"
    assert at(root, "CONTEXT/ORIGIN/ORG_ID") == "fr.police.12D3KooWLyon"
    assert at(root, "CONTEXT/ORIGIN/NAME") == "OC Lyon"
    assert at(root, "CONTEXT/URGENCY") == "URGENT"
    infos = every(root, "CONTEXT/EXTERNAL_INFO")
    assert [(at(i, "URI"), at(i, "TYPE")) for i in infos] == [
        (f"{CTX.media_base}/{PHOTO['id']}", "PHOTO"),
        (f"{CTX.media_base}/{REPORT['id']}", "OTHER"),
    ]
    assert at(root, "EVENT/ID") == ID
    assert [c.text for c in every(root, "EVENT/ETYPE/*")] == ["PSW", "PPL", "OTH", "TER"]
    assert (at(root, "EVENT/SCALE"), at(root, "EVENT/STATUS")) == ("4", "COM")
    assert at(root, "EVENT/EGEO/POSITION/NAME") == "Lyon Part-Dieu"
    assert (at(root, "EVENT/EGEO/POSITION/COORD/LAT"), at(root, "EVENT/EGEO/POSITION/COORD/LONG")) == (
        "45.760169",
        "4.8306081",
    )


def test_an_exercise_incident_is_marked_exercs_with_its_name_in_the_context_freetext() -> None:
    root = etree.fromstring(emsi.export(incident(exercise="Blue Lynx 2025"), CTX))
    assert at(root, "CONTEXT/MODE") == "EXERCS"
    assert at(root, "CONTEXT/FREETEXT") == "QROC exercise: Blue Lynx 2025"
    real = etree.fromstring(emsi.export(incident(), CTX))
    assert at(real, "CONTEXT/MODE") == "ACTUAL"
    assert (every(real, "CONTEXT/FREETEXT") or None) is None


# --- round trip ---


@needs_kit
@given(incidents())
def test_an_export_validates_and_imports_back_to_the_same_fields(case: Incident) -> None:
    """Lossless: title, description, category, severity, status, tags, lat/lon (1e-7 degree),
    place and exercise name (line texts up to leading and trailing white space); the
    incident id becomes the origin's identifier. Lost: media (exported as links), comments,
    author, operator, times and an earlier origin."""
    document = emsi.export(case, CTX)
    assert kit.errors("emsi", document) == []
    back = the_only(emsi.import_document(document))
    assert back.origin == emsi.Origin("emsi", f"fr.police.{CTX.peer_id}", case["id"])
    closed, first = case["status"] == "closed", case["created_at"] == case["updated_at"]
    assert back.action == ("cancel" if closed else "alert" if first else "update")
    assert back.exercise == (None if case["exercise"] is None else case["exercise"].strip())
    assert (back.title, back.description) == (case["title"].strip(), case["description"])
    assert (back.category, back.severity, back.status) == (case["category"], case["severity"], case["status"])
    assert back.tags == tuple(sorted({t.strip() for t in case["tags"]}))
    location = case["location"]
    expected = None if location is None else {**location, "place": location["place"].strip()}
    assert back.location == expected


# --- import of other systems' documents ---


@needs_kit
def test_the_kit_has_the_four_public_emsi_examples() -> None:
    assert len(kit.examples("emsi")) == 4


@needs_kit
@pytest.mark.parametrize("path", kit.examples("emsi"), ids=lambda p: p.name)
def test_every_public_example_imports_with_a_title_and_an_origin(path: object) -> None:
    back = the_only(emsi.import_document(path.read_bytes()))  # type: ignore[attr-defined]
    assert back.title == "Incident sur voix cyclable"
    assert back.origin == emsi.Origin("emsi", "fr.health.samu690", "DRFR15690240430050")
    assert back.action == "update" and back.exercise is None
    assert (back.category, back.severity, back.status) == ("other", "medium", "open")  # TRP/COL, SCALE 2, IPR
    assert back.location == {"lat": 45.760169, "lon": 4.830608, "place": "Quai des Célestins"}
    assert back.description == "Gène de plus en plus importante à la circulation, risque accident"


def test_every_message_about_one_event_maps_to_the_same_origin_and_a_repeat_is_identical() -> None:
    alert = the_only(emsi.import_document(message(msgtype="ALERT")))
    update = the_only(emsi.import_document(message(msgtype="UPDATE", context="<LINK><ID>msg-1</ID></LINK>")))
    cancel = the_only(emsi.import_document(message(msgtype="CANCEL")))
    assert alert.origin == update.origin == cancel.origin == emsi.Origin("emsi", "unknown", "EV-42")
    assert [alert.action, update.action, cancel.action] == ["alert", "update", "cancel"]
    assert emsi.import_document(message()) == emsi.import_document(message())


def test_an_alert_says_enough_to_open_and_an_update_only_what_it_says() -> None:
    alert = the_only(
        emsi.import_document(message(etype="<CATEGORY>FIR</CATEGORY><ACTOR>BEV</ACTOR><LOCTYPE>URB</LOCTYPE>"))
    )
    assert (alert.title, alert.category, alert.severity, alert.description) == ("EMSI event FIR", "other", "medium", "")
    update = the_only(emsi.import_document(message(msgtype="UPDATE", event="<STATUS>STOP</STATUS>")))
    assert (update.title, update.severity, update.description, update.status) == (None, None, None, "monitoring")


@pytest.mark.parametrize(
    ("mode", "context", "marker"),
    [
        ("EXERCS", "<FREETEXT>Briefing first\nQROC exercise: Blue Lynx 2025</FREETEXT>", "Blue Lynx 2025"),
        ("EXERCS", "", "EMSI exercise"),
        ("TEST", "", "EMSI test"),
        ("SYSTEM", "", "EMSI system"),
        ("ACTUAL", "<FREETEXT>QROC exercise: ignored when ACTUAL</FREETEXT>", None),
    ],
)
def test_the_mode_maps_to_our_exercise_marker(mode: str, context: str, marker: str | None) -> None:
    back = the_only(emsi.import_document(message(mode=mode, context=context)))
    assert back.exercise == marker
    assert "QROC exercise" not in (back.description or "")


@pytest.mark.parametrize(
    ("etype", "category"),
    [
        ("<CATEGORY>POL/CHM</CATEGORY><ACTOR>PPL</ACTOR><LOCTYPE>OTH</LOCTYPE>", "cbrne"),
        ("<CATEGORY>FIR</CATEGORY><ACTOR>PPL</ACTOR><LOCTYPE>OTH</LOCTYPE><ENV>DIS/CBRN</ENV>", "cbrne"),
        ("<CATEGORY>PSW/PRSUIT</CATEGORY><ACTOR>VEH/CAR</ACTOR><LOCTYPE>ROAD</LOCTYPE>", "manhunt"),
        ("<CATEGORY>ASB</CATEGORY><ACTOR>PPL/PRS/ESC</ACTOR><LOCTYPE>OTH</LOCTYPE>", "manhunt"),
        ("<CATEGORY>PSW/RIOT</CATEGORY><ACTOR>PPL/GRP</ACTOR><LOCTYPE>URB/STRT</LOCTYPE>", "crowd"),
        ("<CATEGORY>EXP/IMP</CATEGORY><ACTOR>PPL</ACTOR><LOCTYPE>OTH</LOCTYPE>", "terrorism"),
        ("<CATEGORY>EXP/UKN</CATEGORY><ACTOR>PPL</ACTOR><LOCTYPE>OTH</LOCTYPE><ENV>TER</ENV>", "terrorism"),
        ("<CATEGORY>TRP/COL</CATEGORY><ACTOR>VEH</ACTOR><LOCTYPE>ROAD</LOCTYPE>", "other"),
    ],
)
def test_other_systems_event_types_map_to_our_categories(etype: str, category: str) -> None:
    assert the_only(emsi.import_document(message(etype=etype))).category == category


def test_scale_then_urgency_give_the_severity_and_event_status_the_status() -> None:
    def imported(context: str = "", event: str = "") -> Imported:
        return the_only(emsi.import_document(message(context=context, event=event)))

    assert imported(event="<SCALE>5</SCALE>").severity == "critical"
    assert imported(context="<URGENCY>URGENT</URGENCY>").severity == "high"
    assert imported(context="<URGENCY>NOT_URGENT</URGENCY>", event="<SCALE>3</SCALE>").severity == "high"
    assert imported(event="<STATUS>NST</STATUS>").status == "open"
    assert imported(event="<STATUS>COM</STATUS>").status == "resolved"
    cancel = the_only(emsi.import_document(message(msgtype="CANCEL", event="<STATUS>COM</STATUS>")))
    assert cancel.status == "closed"


def test_texts_from_other_systems_are_made_safe_for_our_rules() -> None:
    name = "Line one\nline two\u0085\u009b " + "x" * 300
    back = the_only(
        emsi.import_document(
            message(
                name=name,
                event="<EGEO><POSITION><NAME>\n  Quai\u0090 </NAME><COORD><LAT>1</LAT>"
                f"<LONG>2</LONG></COORD></POSITION></EGEO><FREETEXT>&#13;\n  report\u009f\r\n{'y' * 17000}</FREETEXT>",
            )
        )
    )
    assert back.title is not None and back.title.startswith("Line one line two x") and len(back.title) == 200
    assert back.location == {"lat": 1.0, "lon": 2.0, "place": "Quai"}
    assert back.description is not None and back.description.startswith("report\n")
    assert len(back.description) == limits.text_chars_max
    TITLE.check(back.title)
    DESCRIPTION.check(back.description)


def test_from_element_reads_an_emsi_payload_taken_from_another_tree() -> None:
    envelope = etree.fromstring(b"<wrapper>" + emsi.export(incident(), CTX).split(b"?>", 1)[1] + b"</wrapper>")
    back = emsi.from_element(envelope[0])
    assert back.origin.identifier == ID and back.title == incident()["title"]
    with pytest.raises(XmlRefused) as refused:
        emsi.from_element(envelope)
    assert refused.value.reason == "wrong_root"


# --- refusals ---


def mutated(old: str, new: str, case: Incident | None = None) -> bytes:
    document = emsi.export(case or incident(), CTX).decode()
    assert old in document
    return document.replace(old, new, 1).encode()


REFUSED = [
    (
        "<MODE>ACTUAL</MODE>",
        "<MODE>PRACTICE</MODE>",
        "emsi/CONTEXT/MODE: 'PRACTICE' is not one of ACTUAL, EXERCS, SYSTEM, TEST",
        True,
    ),
    ("<MSGTYPE>UPDATE</MSGTYPE>", "", "emsi/CONTEXT/MSGTYPE: missing", True),
    (
        "<MODE>ACTUAL</MODE><MSGTYPE>UPDATE</MSGTYPE>",
        "<MSGTYPE>UPDATE</MSGTYPE><MODE>ACTUAL</MODE>",
        "emsi/CONTEXT/MODE: must come before MSGTYPE",
        True,
    ),
    ("<CREATION>", "<PRIORITY>1</PRIORITY><CREATION>", "emsi/CONTEXT/PRIORITY: not an element of CONTEXT", True),
    (
        "<CREATION>2024-01-09T16:30:00.250Z",
        "<CREATION>yesterday",
        "emsi/CONTEXT/CREATION: 'yesterday' is not a date-time",
        True,
    ),
    (
        "<LINK_ROLE>SPRSDS",
        "<LINK_ROLE>REPLACES",
        "emsi/CONTEXT/LINK/LINK_ROLE: 'REPLACES' is not one of ADDSTO, SPRSDS",
        True,
    ),
    ("<SCALE>3</SCALE>", "<SCALE>7</SCALE>", "emsi/EVENT/SCALE: '7' is not one of 1, 2, 3, 4, 5", True),
    (
        "<STATUS>IPR</STATUS>",
        "<STATUS>OPEN</STATUS>",
        "emsi/EVENT/STATUS: 'OPEN' is not one of COM, IPR, NST, STOP",
        True,
    ),
    ("<CATEGORY>PSW</CATEGORY>", "", "emsi/EVENT/ETYPE/CATEGORY: missing", True),
    (
        "<LAT>45.760169</LAT>",
        "<LAT>north</LAT>",
        "emsi/EVENT/EGEO/POSITION/COORD/LAT: 'north' is not a decimal number",
        True,
    ),
    ("<LAT>45.760169</LAT>", "<LAT>91</LAT>", "emsi/EVENT/EGEO/POSITION/COORD/LAT: 91 is outside -90..90", False),
    ("<LONG>4.8306081</LONG>", "", "emsi/EVENT/EGEO/POSITION/COORD/LONG: missing", True),
    (
        "<COORDSYS>EPSG-4326",
        "<COORDSYS>EPSG-2154",
        "emsi/EVENT/EGEO/POSITION/COORDSYS: 'EPSG-2154' is not WGS 84",
        False,
    ),
    (f"<ID>{ID}</ID>", "<ID> </ID>", "emsi/EVENT/ID: identifier must not be empty", False),
    (
        "<NAME>Suspicious package at the station</NAME>",
        "<NAME>x<b>y</b></NAME>",
        "emsi/EVENT/NAME: holds elements",
        True,
    ),
    ("</EVENT>", "</EVENT><EVENT><ID>2</ID></EVENT>", "emsi/EVENT: repeated or out of order", True),
]


@pytest.mark.parametrize(("old", "new", "problem", "xsd_refuses"), REFUSED, ids=lambda v: str(v)[:30])
def test_a_document_breaking_the_profile_is_refused_naming_the_first_wrong_element(
    old: str, new: str, problem: str, xsd_refuses: bool
) -> None:
    with pytest.raises(XmlRefused) as refused:
        emsi.import_document(mutated(old, new))
    assert refused.value.reason == "invalid"
    assert str(refused.value).startswith(problem)


@needs_kit
@pytest.mark.parametrize(
    ("old", "new", "problem", "xsd_refuses"), [r for r in REFUSED if r[3]], ids=lambda v: str(v)[:30]
)
def test_what_we_refuse_as_breaking_the_schema_the_kit_refuses_too(
    old: str, new: str, problem: str, xsd_refuses: bool
) -> None:
    assert kit.errors("emsi", mutated(old, new)) != []


@pytest.mark.parametrize("msgtype", ["ACK", "ERROR"])
def test_acknowledgements_and_errors_carry_no_incident_and_are_refused(msgtype: str) -> None:
    with pytest.raises(XmlRefused) as refused:
        emsi.import_document(message(msgtype=msgtype))
    assert refused.value.reason == "unsupported"
    assert str(refused.value).startswith(f"emsi/CONTEXT/MSGTYPE: {msgtype} ")


HOSTILE = [
    (
        b'<?xml version="1.0"?><!DOCTYPE emsi [<!ENTITY x "boom">]><emsi xmlns="' + emsi.NS.encode() + b'">&x;</emsi>',
        "dtd",
    ),
    (b'<!DOCTYPE emsi SYSTEM "http://attacker.example/emsi.dtd"><emsi/>', "dtd"),
    (message().replace(b"</EVENT>", b"<FREETEXT>" + b"x" * limits.xml_bytes_max + b"</FREETEXT></EVENT>"), "too_large"),
    (message().replace(b"</EVENT>", b"<FREETEXT>" + b"<a>" * 40 + b"</a>" * 40 + b"</FREETEXT></EVENT>"), "too_deep"),
    (message().replace(emsi.NS.encode(), b"http://tacticalsituationobject.org/schemas/EMSI/2_0"), "wrong_root"),
    (message().replace(b' xmlns="' + emsi.NS.encode() + b'"', b""), "wrong_root"),
    (b"<event version='2.0'/>", "wrong_root"),
    (message()[:-10], "malformed"),
    (message().replace(b'encoding="UTF-8"', b'encoding="UTF-16"'), "encoding"),
]


@pytest.mark.parametrize(("document", "reason"), HOSTILE, ids=[r for _, r in HOSTILE])
def test_hostile_documents_are_refused_before_anything_is_read(document: bytes, reason: str) -> None:
    with pytest.raises(XmlRefused) as refused:
        emsi.import_document(document)
    assert refused.value.reason == reason
