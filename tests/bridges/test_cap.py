"""CAP 1.2: exports valid against the kit's XSD, imports of every public example, lossless
round trips of our own incidents, updates and cancels as one chain, exercise marking both
ways, foreign text made safe, hostile XML refused."""

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from bridges import cap
from bridges.model import Context, Imported, Incident, MediaItem
from bridges.xml import XmlRefused
from protocol import limits
from protocol.body import DESCRIPTION, FILE_NAME, LAT_E7_MAX, LON_E7_MAX, PLACE, TAG, TITLE
from protocol.entry import EXERCISE
from tests.bridges import kit
from tests.bridges.kit import needs_kit
from tests.protocol.strategies import any_char, valid_text

CTX = Context("OC Berlin", "DE", "12D3KooWQrocBerlin", "https://oc-berlin.example/v1/media", 1_714_560_000_000)
CATEGORIES = ["cbrne", "manhunt", "crowd", "terrorism", "other"]
SEVERITIES = ["low", "medium", "high", "critical"]
STATUSES = ["open", "monitoring", "resolved", "closed"]
TITLES = [
    "Suspicious parcel at Hauptbahnhof",
    "حادث في المحطة المركزية",  # Arabic, right to left
    "שריפה ליד הנמל",  # Hebrew
    "Crowd surge 🚨🔥 near gate 3",
    "<script>alert('x')</script> & \"quotes\" 'apostrophes' ]]> -->",
]


def rfc3339(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def media(n: int) -> MediaItem:
    return {
        "id": f"{n:02x}" * 32,
        "name": f"photo-{n}.jpg",
        "mime": "image/jpeg",
        "size": 1000 + n,
        "sha256": "ab" * 32,
    }


def make_incident(**fields: Any) -> Incident:
    incident: dict[str, Any] = {
        "id": "5e" * 32,
        "title": "Suspicious parcel at Hauptbahnhof",
        "description": "Found at platform 4.\nArea cordoned off.",
        "category": "cbrne",
        "severity": "high",
        "status": "open",
        "location": {"lat": 52.5250839, "lon": 13.369402, "place": "Berlin Hbf"},
        "tags": ["parcel", "rail"],
        "exercise": None,
        "created_at": "2024-05-01T10:00:00.000Z",
        "updated_at": "2024-05-01T10:00:00.000Z",
        "author": {"name": "OC Berlin", "country": "DE", "peer_id": CTX.peer_id, "public_key": "00" * 32},
        "operator": "duty officer",
        "comments": [],
        "media": [],
        "origin": None,
    }
    incident.update(fields)
    return incident  # type: ignore[return-value]


def range_of_incidents() -> list[Incident]:
    """Every category, severity and status, with and without a location, exercise and
    real, awkward text, comments and media."""
    out = []
    for n, (category, status) in enumerate(itertools.product(CATEGORIES, STATUSES)):
        out.append(
            make_incident(
                id=f"{n:064x}",
                title=TITLES[n % len(TITLES)],
                description=["", "Zeile 1\n\tZeile 2 — ünïcödé ✓", "a < b && c > d"][n % 3],
                category=category,
                severity=SEVERITIES[n % 4],
                status=status,
                location=None
                if n % 3 == 0
                else {"lat": -33.5 + n, "lon": 151.25 - n, "place": ["", "Quai 8 🏛"][n % 2]},
                tags=[] if n % 2 else ["a", "tag with spaces", "🚓"],
                exercise=None if n % 2 else f"Blue Shield {n}",
                updated_at="2024-05-01T10:00:00.000Z" if n % 4 == 0 else "2024-05-01T11:30:15.250Z",
                comments=[{"id": "cc" * 32, "text": "note", "author": None, "operator": None, "created_at": "x"}],
                media=[media(i) for i in range(n % 3)],
            )
        )
    return out


def parsed(document: bytes) -> etree._Element:
    return etree.fromstring(document)


def child(element: etree._Element, path: str) -> str:
    found = element.find("/".join(f"{{{cap.NS}}}{part}" for part in path.split("/")))
    assert found is not None, path
    return found.text or ""


def alert_xml(head: str = "", info: str = "", **fields: str) -> bytes:
    values = {
        "identifier": "ID-1",
        "sender": "ops@example.org",
        "sent": "2024-05-01T10:00:00+02:00",
        "status": "Actual",
        "msgType": "Alert",
        "scope": "Public",
    } | fields
    top = "".join(f"<{name}>{value}</{name}>" for name, value in values.items())
    return f'<?xml version="1.0" encoding="UTF-8"?><alert xmlns="{cap.NS}">{top}{head}{info}</alert>'.encode()


def info_xml(body: str = "", severity: str = "Severe", language: str = "") -> str:
    lang = f"<language>{language}</language>" if language else ""
    return (
        f"<info>{lang}<category>Security</category><event>Police operation</event><urgency>Immediate</urgency>"
        f"<severity>{severity}</severity><certainty>Observed</certainty>{body}</info>"
    )


# --- export ---


@needs_kit
@pytest.mark.parametrize("incident", range_of_incidents(), ids=lambda i: i["id"][-2:])
def test_every_export_of_a_range_of_incidents_is_valid_cap(incident: Incident) -> None:
    assert kit.errors("cap", cap.export(incident, CTX)) == []


def test_an_export_is_utf8_with_an_xml_declaration_and_cap_times_without_z() -> None:
    document = cap.export(make_incident(updated_at="2024-05-01T12:34:56.789Z"), CTX)
    assert document.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    alert = parsed(document)
    assert child(alert, "sent") == "2024-05-01T12:34:56+00:00"
    assert child(alert, "identifier") == f"qroc-{'5e' * 32}-20240501T123456789Z"
    assert child(alert, "sender") == f"qroc:{CTX.peer_id}"
    assert child(alert, "scope") == "Restricted"


def test_media_items_are_resources_by_reference_to_this_node() -> None:
    alert = parsed(cap.export(make_incident(media=[media(1), media(2)]), CTX))
    resources = alert.findall(f".//{{{cap.NS}}}resource")
    assert [child(r, "uri") for r in resources] == [f"{CTX.media_base}/{'01' * 32}", f"{CTX.media_base}/{'02' * 32}"]
    assert [child(r, "resourceDesc") for r in resources] == ["photo-1.jpg", "photo-2.jpg"]
    assert [child(r, "size") for r in resources] == ["1001", "1002"]
    assert alert.find(f".//{{{cap.NS}}}digest") is None  # CAP's digest is SHA-1; we hold SHA-256


def test_an_imported_incident_is_exported_under_our_own_identifier_with_its_origin_as_parameters() -> None:
    origin = {"format": "cap", "sender": "ops@example.org", "identifier": "ID-1"}
    alert = parsed(cap.export(make_incident(origin=origin), CTX))
    assert child(alert, "sender") == f"qroc:{CTX.peer_id}"
    parameters = {child(p, "valueName"): child(p, "value") for p in alert.iter(f"{{{cap.NS}}}parameter")}
    assert parameters["qroc:origin-sender"] == "ops@example.org"
    assert parameters["qroc:origin-identifier"] == "ID-1"


# --- exercise marking ---


@pytest.mark.parametrize("incident", range_of_incidents(), ids=lambda i: i["id"][-2:])
def test_an_exercise_incident_is_never_exported_as_actual_and_a_real_one_never_as_exercise(incident: Incident) -> None:
    status = child(parsed(cap.export(incident, CTX)), "status")
    assert (status == "Actual") == (incident["exercise"] is None)
    [back] = cap.import_document(cap.export(incident, CTX))
    assert back.exercise == incident["exercise"]


def test_an_exercise_is_marked_exercise_with_its_name_in_the_note() -> None:
    alert = parsed(cap.export(make_incident(exercise="Blue Shield"), CTX))
    assert child(alert, "status") == "Exercise"
    assert child(alert, "note") == "QROC exercise: Blue Shield"


@pytest.mark.parametrize(
    ("status", "note", "marker"),
    [
        ("Actual", "QROC exercise: ignored, the status says real", None),
        ("Exercise", "QROC exercise: Nordic Guard", "Nordic Guard"),
        ("Exercise", "", "CAP exercise"),
        ("Test", "", "CAP test"),
        ("System", "", "CAP system"),
    ],
)
def test_cap_status_maps_to_our_exercise_marker(status: str, note: str, marker: str | None) -> None:
    [imported] = cap.import_document(alert_xml(f"<note>{note}</note>" if note else "", info_xml(), status=status))
    assert imported.exercise == marker


@pytest.mark.parametrize("status", ["Test", "System"])
def test_a_cap_test_or_system_message_goes_back_out_as_test_or_system(status: str) -> None:
    [imported] = cap.import_document(alert_xml(info=info_xml(), status=status))
    exported = parsed(cap.export(make_incident(exercise=imported.exercise), CTX))
    assert child(exported, "status") == status


# --- import ---


def test_a_qroc_export_imports_back_exactly() -> None:
    incident = make_incident(
        title="  two  spaces  ", status="resolved", updated_at="2024-05-02T08:00:00.000Z", exercise="Ex 1"
    )
    [imported] = cap.import_document(cap.export(incident, CTX))
    assert imported == Imported(
        origin=imported.origin,
        action="update",
        exercise="Ex 1",
        title="  two  spaces  ",
        category="cbrne",
        severity="high",
        status="resolved",
        description="Found at platform 4.\nArea cordoned off.",
        location={"lat": 52.5250839, "lon": 13.369402, "place": "Berlin Hbf"},
        tags=("parcel", "rail"),
        refers_to=imported.refers_to,
    )


def test_alert_update_cancel_of_one_incident_form_one_chain_naming_the_first_alert() -> None:
    states = [
        make_incident(),
        make_incident(updated_at="2024-05-01T10:20:00.000Z", severity="critical"),
        make_incident(updated_at="2024-05-01T12:00:00.000Z", status="closed"),
    ]
    alert, update, cancel = (cap.import_document(cap.export(s, CTX))[0] for s in states)
    assert [alert.action, update.action, cancel.action] == ["alert", "update", "cancel"]
    assert update.refers_to == cancel.refers_to == (alert.origin,)
    assert alert.refers_to == ()
    assert update.severity == "critical" and cancel.status == "closed"
    assert len({alert.origin, update.origin, cancel.origin}) == 3  # one CAP message each
    again = cap.import_document(cap.export(states[1], CTX))[0]
    assert again.origin == update.origin  # the same state is the same message: idempotent


def test_a_foreign_update_and_cancel_refer_to_the_alert_they_name() -> None:
    first = cap.import_document(alert_xml(info=info_xml(), identifier="A-1"))[0]
    reference = "<references>ops@example.org,A-1,2024-05-01T10:00:00+02:00</references>"
    update = cap.import_document(alert_xml(reference, info_xml(severity="Extreme"), identifier="A-2", msgType="Update"))
    cancel = cap.import_document(alert_xml(reference, identifier="A-3", msgType="Cancel"))
    assert first.origin == Imported(first.origin, "alert", None).origin
    assert update[0].action == "update" and update[0].refers_to == (first.origin,) and update[0].severity == "critical"
    assert cancel[0].action == "cancel" and cancel[0].refers_to == (first.origin,) and cancel[0].status == "closed"


def test_several_info_blocks_prefer_english_text_and_the_highest_severity() -> None:
    area = (
        "<area><areaDesc>Polygon only</areaDesc><polygon>10,20 10,22 12,22 12,20 10,20</polygon></area>"
        "<area><areaDesc>Stade de France</areaDesc><circle>48.924459,2.360164 0.5</circle>"
        "<circle>1,1 2</circle></area>"
    )
    french = info_xml("<headline>Alerte au stade</headline>", "Extreme", "fr-FR")
    english = info_xml(f"<headline>Stadium alert</headline><description>Crowd.</description>{area}", "Minor", "en-GB")
    [imported] = cap.import_document(alert_xml(info=french + english))
    assert imported.title == "Stadium alert"
    assert imported.severity == "critical"
    assert imported.location == {"lat": 48.924459, "lon": 2.360164, "place": "Stade de France"}


def test_without_a_circle_the_location_is_the_centre_of_the_first_polygon() -> None:
    area = "<area><areaDesc>Block</areaDesc><polygon>10,20 10,22 12,22 12,20 10,20</polygon></area>"
    [imported] = cap.import_document(alert_xml(info=info_xml(area)))
    assert imported.location == {"lat": 11.0, "lon": 21.0, "place": "Block"}


def test_without_coordinates_the_area_names_go_into_the_description() -> None:
    area = "<area><areaDesc>Los Angeles County</areaDesc></area>"
    [imported] = cap.import_document(alert_xml(info=info_xml(f"<description>Child missing.</description>{area}")))
    assert imported.location is None
    assert imported.description == "Child missing.\n\nArea: Los Angeles County"


def test_headline_description_and_instruction_map_to_title_and_description() -> None:
    body = "<headline>Amber alert</headline><description>Boy, 3.</description><instruction>Call 112.</instruction>"
    [imported] = cap.import_document(alert_xml(info=info_xml(body)))
    assert (imported.title, imported.description, imported.category) == (
        "Amber alert",
        "Boy, 3.\n\nCall 112.",
        "manhunt",
    )
    [no_headline] = cap.import_document(alert_xml(info=info_xml()))
    assert no_headline.title == "Police operation"


@needs_kit
@pytest.mark.parametrize("path", kit.examples("cap"), ids=lambda p: p.name)
def test_every_valid_kit_example_imports(path: Any) -> None:
    [imported] = cap.import_document(path.read_bytes())
    assert imported.origin.format == "cap" and imported.origin.sender and imported.origin.identifier
    has_info = b"<info>" in path.read_bytes() or b"<cap:info>" in path.read_bytes()
    if has_info:
        assert imported.title and imported.severity in SEVERITIES
    else:
        assert imported.action == "cancel" and imported.refers_to
    check_text_rules(imported)


@needs_kit
def test_the_iso_8859_1_example_keeps_its_accents() -> None:
    [path] = [p for p in kit.examples("cap") if "iso8859" in p.name]
    [imported] = cap.import_document(path.read_bytes())
    assert imported.title is not None and "Usulután" in imported.title


@needs_kit
@pytest.mark.parametrize("path", kit.examples("cap", valid=False), ids=lambda p: p.name)
def test_the_kits_invalid_examples_are_refused(path: Any) -> None:
    with pytest.raises(XmlRefused):
        cap.import_document(path.read_bytes())


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            alert_xml(info=info_xml(severity="Catastrophic")),
            "alert/info[1]/severity: 'Catastrophic' is not one of Extreme, Severe, Moderate, Minor, Unknown",
        ),
        (alert_xml(scope="Everyone"), "alert/scope: 'Everyone' is not one of Public, Restricted, Private"),
        (alert_xml(sent="2024-05-01T10:00:00Z"), "alert/sent: '2024-05-01T10:00:00Z' is not a date-time"),
        (alert_xml(identifier=""), "alert/identifier: empty"),
        (alert_xml(info=info_xml("<area><circle>1,2 0</circle></area>")), "alert/info[1]/area[1]/areaDesc: missing"),
        (alert_xml(info=info_xml("<area><areaDesc>x</areaDesc><circle>95,2 0</circle></area>")), "circle[1]: a coord"),
        (alert_xml("<references>only-two,parts</references>"), "alert/references: 'only-two,parts' is not"),
    ],
)
def test_a_wrong_document_is_refused_naming_the_first_wrong_element(document: bytes, message: str) -> None:
    with pytest.raises(XmlRefused) as refused:
        cap.import_document(document)
    assert refused.value.reason == "invalid"
    assert message in str(refused.value)


def test_missing_required_elements_are_named_in_schema_order() -> None:
    document = alert_xml().replace(b"<msgType>Alert</msgType>", b"").replace(b"<scope>Public</scope>", b"")
    with pytest.raises(XmlRefused, match=r"^alert/msgType: missing$"):
        cap.import_document(document)


@pytest.mark.parametrize(("field", "value"), [("msgType", "Ack"), ("msgType", "Error"), ("status", "Draft")])
def test_acks_errors_and_drafts_are_refused_as_not_about_an_incident(field: str, value: str) -> None:
    with pytest.raises(XmlRefused, match="says nothing about an incident") as refused:
        cap.import_document(alert_xml(**{field: value}))
    assert refused.value.reason == "unsupported"


# --- foreign text is made safe for our rules ---


def check_text_rules(imported: Imported) -> None:
    if imported.title is not None:
        TITLE.check(imported.title)
    if imported.description is not None:
        DESCRIPTION.check(imported.description)
    if imported.location is not None:
        PLACE.check(imported.location["place"])
    if imported.exercise is not None:
        EXERCISE.check(imported.exercise)
    assert len(imported.tags) <= limits.tags_max
    for tag in imported.tags:
        TAG.check(tag)


def xml_text(value: str) -> str:
    """`value` as XML 1.0 can carry it (it has no other characters), escaped."""
    allowed = "".join(c for c in value if c in "\t\n\r" or 0x20 <= ord(c) <= 0xD7FF or 0xE000 <= ord(c) <= 0xFFFD)
    return allowed.replace("&", "&amp;").replace("<", "&lt;").replace("\r", "&#13;")


def test_long_and_odd_fields_from_other_systems_are_made_safe() -> None:
    odd = "Line\none\ttab\u2028sep\u0085nel\x7f\u009f" + "x" * 300
    body = (
        f"<headline>{odd}</headline><description>{odd * 60}</description>"
        + "".join(f"<parameter><valueName>qroc:tag</valueName><value>{i}{odd}</value></parameter>" for i in range(80))
        + f"<area><areaDesc>{odd}</areaDesc><circle>1,2 0</circle></area>"
    )
    note = f"<note>QROC exercise: {odd}</note>"
    [imported] = cap.import_document(alert_xml(note, info_xml(body), status="Exercise"))
    check_text_rules(imported)
    assert imported.title is not None and imported.title.startswith("Line one tab sep nel")
    assert len(imported.tags) == limits.tags_max


@given(
    headline=st.text(any_char, max_size=300),
    description=st.text(any_char, max_size=300),
    place=st.text(any_char, max_size=300),
    note=st.text(any_char, max_size=150),
    tags=st.lists(st.text(any_char, max_size=80), max_size=70),
    ours=st.booleans(),
)
def test_whatever_text_a_foreign_alert_carries_its_import_passes_our_text_rules(
    headline: str, description: str, place: str, note: str, tags: list[str], ours: bool
) -> None:
    params = [("incident", "x")] if ours else []
    body = (
        f"<headline>{xml_text(headline)}</headline><description>{xml_text(description)}</description>"
        + "".join(
            f"<parameter><valueName>qroc:{n}</valueName><value>{xml_text(v)}</value></parameter>"
            for n, v in params + [("tag", t) for t in tags]
        )
        + f"<area><areaDesc>{xml_text(place)}</areaDesc><circle>1,2 0</circle></area>"
    )
    [imported] = cap.import_document(
        alert_xml(f"<note>QROC exercise: {xml_text(note)}</note>", info_xml(body), status="Exercise")
    )
    check_text_rules(imported)


# --- round trip of generated incidents ---

media_items = st.builds(
    lambda n, name, size: {"id": f"{n:064x}", "name": name, "mime": "image/png", "size": size, "sha256": "cd" * 32},
    st.integers(0, 2**64),
    valid_text(FILE_NAME, 20),
    st.integers(1, limits.media_bytes_max),
)


@st.composite
def incidents(draw: st.DrawFn) -> Incident:
    created = draw(st.integers(0, 4_102_444_800_000))  # 1970 to 2100
    updated = created + draw(st.sampled_from([0, 1, 999, 86_400_000]))
    located = draw(st.booleans())
    location = {
        "lat": draw(st.integers(-LAT_E7_MAX, LAT_E7_MAX)) / 1e7,
        "lon": draw(st.integers(-LON_E7_MAX, LON_E7_MAX)) / 1e7,
        "place": draw(valid_text(PLACE, 40)),
    }
    return make_incident(
        id=draw(st.binary(min_size=32, max_size=32)).hex(),
        title=draw(valid_text(TITLE, 60)),
        description=draw(valid_text(DESCRIPTION, 120)),
        category=draw(st.sampled_from(CATEGORIES)),
        severity=draw(st.sampled_from(SEVERITIES)),
        status=draw(st.sampled_from(STATUSES)),
        location=location if located else None,
        tags=sorted(set(draw(st.lists(valid_text(TAG, 12), max_size=6)))),
        exercise=draw(st.none() | valid_text(EXERCISE, 30) | st.sampled_from(["CAP test", "CAP system"])),
        created_at=rfc3339(created),
        updated_at=rfc3339(updated),
        media=draw(st.lists(media_items, max_size=2)),
    )


def assert_same_fields(imported: Imported, incident: Incident) -> None:
    assert imported.title == incident["title"]
    assert imported.description == incident["description"]
    assert (imported.category, imported.severity, imported.status) == (
        incident["category"],
        incident["severity"],
        incident["status"],
    )
    assert sorted(imported.tags) == incident["tags"]
    assert imported.exercise == incident["exercise"]
    if incident["location"] is None:
        assert imported.location is None
    else:
        assert imported.location is not None
        assert imported.location["place"] == incident["location"]["place"]
        assert abs(imported.location["lat"] - incident["location"]["lat"]) <= 1e-7
        assert abs(imported.location["lon"] - incident["location"]["lon"]) <= 1e-7


@needs_kit
@given(incidents())
def test_a_generated_incident_exports_valid_cap_and_imports_back_the_same_fields(incident: Incident) -> None:
    document = cap.export(incident, CTX)
    assert kit.errors("cap", document) == []
    [imported] = cap.import_document(document)
    assert_same_fields(imported, incident)
    assert imported.origin == cap.import_document(cap.export(incident, CTX))[0].origin


# --- Atom feed ---


@needs_kit
def test_the_atom_feed_lists_the_newest_incidents_each_linking_and_embedding_its_cap_alert() -> None:
    atom = "{http://www.w3.org/2005/Atom}"
    incidents = range_of_incidents()
    feed = parsed(cap.atom_feed(incidents, CTX, "https://oc-berlin.example/v1/cap/alerts"))
    assert feed.tag == f"{atom}feed"
    assert feed.findtext(f"{atom}id") == "https://oc-berlin.example/v1/cap/alerts"
    assert feed.findtext(f"{atom}updated") == "2024-05-01T11:30:15.250Z"
    entries = feed.findall(f"{atom}entry")
    assert len(entries) == len(incidents)
    updated = [e.findtext(f"{atom}updated") for e in entries]
    assert updated == sorted(updated, reverse=True)
    for entry in entries:
        link = entry.find(f"{atom}link")
        assert link is not None and link.get("type") == "application/cap+xml" and link.get("rel") == "alternate"
        assert link.get("href", "").startswith("https://oc-berlin.example/v1/cap/")
        content = entry.find(f"{atom}content")
        assert content is not None and content.get("type") == "application/cap+xml"
        [alert] = list(content)
        assert kit.errors("cap", etree.tostring(alert, xml_declaration=True, encoding="UTF-8")) == []
        assert entry.findtext(f"{atom}title") == alert.findtext(f"{{{cap.NS}}}info/{{{cap.NS}}}headline")


def test_the_atom_feed_is_bounded_and_takes_an_alert_url_template() -> None:
    incidents = [make_incident(id=f"{n:064x}", updated_at=rfc3339(1_714_557_600_000 + n)) for n in range(205)]
    feed = parsed(cap.atom_feed(incidents, CTX, "https://x.example/feed", alert_url="https://x.example/cap/{id}.xml"))
    entries = feed.findall("{http://www.w3.org/2005/Atom}entry")
    assert len(entries) == limits.cap_feed_items_max
    link = entries[0].find("{http://www.w3.org/2005/Atom}link")
    assert link is not None and link.get("href") == f"https://x.example/cap/{204:064x}.xml"


# --- hostile XML ---

HOSTILE = {
    "doctype": (b'<?xml version="1.0"?><!DOCTYPE alert><alert xmlns="' + cap.NS.encode() + b'"/>', "dtd"),
    "billion laughs": (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        b'<alert xmlns="' + cap.NS.encode() + b'"><identifier>&lol2;</identifier></alert>',
        "dtd",
    ),
    "external entity": (
        b'<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b'<alert xmlns="' + cap.NS.encode() + b'"><identifier>&xxe;</identifier></alert>',
        "dtd",
    ),
    "oversize": (alert_xml(f"<note>{'x' * limits.xml_bytes_max}</note>"), "too_large"),
    "40 deep": (alert_xml("<code>" + "<a>" * 40 + "</a>" * 40 + "</code>"), "too_deep"),
    "wrong namespace": (alert_xml().replace(cap.NS.encode(), b"urn:oasis:names:tc:emergency:cap:1.1"), "wrong_root"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_document_is_refused(name: str) -> None:
    document, reason = HOSTILE[name]
    with pytest.raises(XmlRefused) as refused:
        cap.import_document(document)
    assert refused.value.reason == reason
