"""Cursor-on-Target: exports valid against the MITRE base event, TAK's public events
imported, our own events back to the same fields, refusals naming the first wrong
attribute. Incidents come from test_emsi.py's factory and strategy."""

from dataclasses import replace

import pytest
from hypothesis import given
from lxml import etree

from bridges import cot
from bridges.model import Imported, Incident, NotAnIncident, Origin
from bridges.xml import XmlRefused
from protocol import limits

from . import kit
from .kit import needs_kit
from .test_emsi import CTX, ID, PHOTO, UPDATED, incident, incidents, range_of_incidents, the_only

TAK_MARKER = b"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<event version="2.0" uid="4a0f4f84-240c-4ff9-b7b0-d08beec900b3" type="a-h-G-U-C" how="h-g-i-g-o"
       time="2024-03-01T10:15:00.000Z" start="2024-03-01T10:15:00.000Z" stale="2024-03-02T10:15:00.000Z">
  <point lat="48.8583701" lon="2.2944813" hae="35.0" ce="9.9" le="9999999.0"/>
  <detail>
    <contact callsign="Armed suspect" endpoint="192.168.1.20:4242:tcp"/>
    <__group name="Cyan" role="Team Lead"/>
    <status battery="87" readiness="true"/>
    <takv device="SAMSUNG SM-G998B" platform="ATAK-CIV" os="33" version="4.10.0.5"/>
    <track course="271.5" speed="1.2"/>
    <remarks source="BAO.F.ATAK.ANDROID-7f3c" time="2024-03-01T10:15:00.000Z">Seen heading west on foot.
Dark jacket, backpack.</remarks>
    <link uid="ANDROID-7f3c" type="a-f-G-U-C" parent_callsign="VIPER 1" relation="p-p"
          production_time="2024-03-01T10:14:50.000Z"/>
  </detail>
</event>
"""


def event(**attributes: str) -> bytes:
    """A minimal CoT event; `attributes` replace (or, set to "", drop) the event's."""
    base = {"version": "2.0", "uid": "marker-1", "type": "a-u-G", "how": "h-e"}
    base |= {"time": "2024-03-01T10:15:00Z", "start": "2024-03-01T10:15:00Z", "stale": "2024-03-01T11:15:00Z"}
    base |= attributes
    head = " ".join(f'{name}="{value}"' for name, value in base.items() if value != "")
    return f'<event {head}><point lat="50.85" lon="4.35" hae="0" ce="10" le="10"/></event>'.encode()


# --- export ---


@needs_kit
@pytest.mark.parametrize("case", range_of_incidents(), ids=lambda i: f"{i['category']}-{i['severity']}-{i['status']}")
def test_every_export_of_a_located_incident_over_a_range_is_a_valid_cot_event(case: Incident) -> None:
    document = cot.export(case, CTX)
    if case["location"] is None:
        assert document is None
    else:
        assert document is not None and kit.errors("cot", document) == []


def test_an_incident_without_location_is_not_exported_since_cot_needs_a_point() -> None:
    assert cot.export(incident(location=None), CTX) is None
    assert cot.stream_event(incident(location=None), CTX) is None


def test_the_event_is_a_stable_marker_with_the_title_as_callsign_and_this_node_as_producer() -> None:
    root = etree.fromstring(cot.export(incident(media=[PHOTO]), CTX) or b"")
    assert root.get("uid") == f"qroc-{ID}"
    assert (root.get("type"), root.get("how"), root.get("version")) == ("a-h-G", "h-e", "2.0")
    assert root.get("time") == root.get("start") == UPDATED
    assert root.get("opex") is None
    point = root.find("point")
    assert point is not None and (point.get("lat"), point.get("lon"), point.get("ce")) == (
        "45.760169",
        "4.8306081",
        "9999999.0",
    )
    assert root.find("detail/contact").get("callsign") == incident()["title"]  # type: ignore[union-attr]
    link = root.find("detail/link")
    assert link is not None and (link.get("uid"), link.get("relation"), link.get("parent_callsign")) == (
        CTX.peer_id,
        "p-p",
        CTX.node_name,
    )
    assert (root.findtext("detail/remarks") or "").startswith(incident()["description"] + "\nQROC incident: {")


@pytest.mark.parametrize(("category", "kind"), [("terrorism", "a-h-G"), ("manhunt", "a-s-G"), ("cbrne", "a-u-G")])
def test_the_type_is_hostile_for_terrorism_suspect_for_a_manhunt_and_unknown_otherwise(
    category: str, kind: str
) -> None:
    assert etree.fromstring(cot.export(incident(category=category), CTX) or b"").get("type") == kind


def test_the_marker_goes_stale_a_day_after_now_or_the_last_change_if_later_or_at_once_when_closed() -> None:
    later = replace(CTX, now_ms=1_704_877_200_000)  # 2024-01-10T09:00:00Z, after UPDATED
    assert etree.fromstring(cot.export(incident(), later) or b"").get("stale") == "2024-01-11T09:00:00.000Z"
    assert CTX.now_ms < 1_704_817_800_250  # a clock behind UPDATED (2024-01-09T16:30:00.250Z)
    assert etree.fromstring(cot.export(incident(), CTX) or b"").get("stale") == "2024-01-10T16:30:00.250Z"
    closed = etree.fromstring(cot.export(incident(status="closed"), CTX) or b"")
    assert closed.get("stale") == closed.get("start") == UPDATED


def test_a_streamed_event_has_no_declaration_and_a_tak_stream_of_them_parses() -> None:
    streamed = cot.stream_event(incident(), CTX) or b""
    assert streamed.startswith(b"<event ") and streamed == (cot.export(incident(), CTX) or b"").split(b"?>\n", 1)[-1]
    stream = streamed + cot.stream_event(incident(title="Second state"), CTX)  # type: ignore[operator]
    parser = etree.XMLPullParser(events=("end",), tag="event")
    parser.feed(b"<stream>" + stream + b"</stream>")
    assert [e.find("detail/contact").get("callsign") for _, e in parser.read_events()] == [  # type: ignore[union-attr]
        incident()["title"],
        "Second state",
    ]


# --- round trip ---


@needs_kit
@given(incidents())
def test_an_export_validates_and_imports_back_to_the_same_fields(case: Incident) -> None:
    """Lossless for a located incident: title (callsign), description, category, severity,
    status, tags and place (remarks trailer), lat/lon to 1e-7 degree (but the point 0,0,
    TAK's "no position") and the exercise name (opex), line texts up to leading and trailing
    white space. Lost: media, comments, author, operator, times, an earlier origin; the
    incident id survives only inside the uid."""
    document = cot.export(case, CTX)
    location = case["location"]
    if location is None:
        assert document is None
        return
    assert document is not None and kit.errors("cot", document) == []
    back = the_only(cot.import_document(document))
    assert (back.origin, back.action) == (Origin("cot", CTX.peer_id, f"qroc-{case['id']}"), "alert")
    assert back.exercise == (None if case["exercise"] is None else case["exercise"].strip())
    assert (back.title, back.description) == (case["title"].strip(), case["description"])
    assert (back.category, back.severity, back.status) == (case["category"], case["severity"], case["status"])
    assert back.tags == tuple(sorted({t.strip() for t in case["tags"]}))
    null_island = location["lat"] == 0 and location["lon"] == 0
    assert back.location == (None if null_island else {**location, "place": location["place"].strip()})


# --- import of TAK's events ---


@needs_kit
def test_the_kit_has_the_fourteen_public_tak_events() -> None:
    assert len(kit.examples("cot")) == 14


MARKERS = {"atak-civ__Marker - 2525.cot", "atak-civ__Marker - Icon Set.cot", "atak-civ__Marker - Spot.cot"}


@needs_kit
@pytest.mark.parametrize("path", [p for p in kit.examples("cot") if p.name in MARKERS], ids=lambda p: p.name)
def test_every_public_tak_marker_imports_with_a_title_and_an_origin(path: object) -> None:
    back = the_only(cot.import_document(path.read_bytes()))  # type: ignore[attr-defined]
    assert back.title and back.origin.format == "cot" and back.origin.sender and back.origin.identifier
    assert back.origin.identifier == etree.fromstring(path.read_bytes()).get("uid")  # type: ignore[attr-defined]
    assert (back.action, back.exercise, back.severity) == ("alert", None, "medium")


@needs_kit
@pytest.mark.parametrize("path", [p for p in kit.examples("cot") if p.name not in MARKERS], ids=lambda p: p.name)
def test_every_other_public_tak_event_is_checked_and_named_as_no_incident(path: object) -> None:
    with pytest.raises(NotAnIncident, match="nothing is written"):
        cot.import_document(path.read_bytes())  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("kind", "what"),
    [
        ("a-f-G-U-C", "a friendly position"),
        ("a-a-A", "a friendly position"),
        ("b-t-f", "a chat message"),
        ("b-m-r", "a route"),
        ("u-d-c-c", "a drawing"),
        ("u-rb-a", "a range and bearing line"),
        ("t-x-c-t", "a control or tasking message"),
        ("y-nothing-known", "does not describe an incident"),
    ],
)
def test_what_a_tak_client_sends_besides_incidents_is_named_and_writes_nothing(kind: str, what: str) -> None:
    with pytest.raises(NotAnIncident, match=what):
        cot.import_document(event(type=kind))


def test_an_event_that_is_no_incident_is_still_checked_first() -> None:
    with pytest.raises(XmlRefused, match="event/point"):
        cot.import_document(event(type="b-t-f").replace(b'lat="50.85"', b'lat="91"'))


def test_an_emergency_beacon_is_an_incident_and_its_cancellation_closes_it() -> None:
    beacon = the_only(cot.import_document(event(type="b-a-o-tbl", uid="ANDROID-7f3c-9-1-1")))
    assert (beacon.action, beacon.origin.identifier, beacon.title) == ("alert", "ANDROID-7f3c-9-1-1", "CoT b-a-o-tbl")
    called_off = the_only(cot.import_document(event(type="b-a-o-can", uid="ANDROID-7f3c-9-1-1")))
    assert (called_off.action, called_off.origin) == ("cancel", beacon.origin)


def test_a_tak_marker_with_typical_detail_children_maps_sensibly() -> None:
    back = the_only(cot.import_document(TAK_MARKER))
    assert back.origin == Origin("cot", "ANDROID-7f3c", "4a0f4f84-240c-4ff9-b7b0-d08beec900b3")
    assert (back.action, back.exercise, back.title) == ("alert", None, "Armed suspect")
    assert back.description == "Seen heading west on foot.\nDark jacket, backpack."
    assert back.location == {"lat": 48.8583701, "lon": 2.2944813, "place": "Armed suspect"}
    assert (back.category, back.severity, back.status, back.tags) == ("terrorism", "medium", None, ())


def test_the_same_uid_posted_twice_gives_the_same_origin_and_the_same_import() -> None:
    assert cot.import_document(TAK_MARKER) == cot.import_document(TAK_MARKER)
    moved = TAK_MARKER.replace(b'lat="48.8583701"', b'lat="48.86"').replace(b"Armed suspect", b"Suspect, moving")
    assert the_only(cot.import_document(moved)).origin == the_only(cot.import_document(TAK_MARKER)).origin


def test_without_a_producer_link_the_callsign_is_the_sender_and_without_a_callsign_the_remarks_title_it() -> None:
    pli = TAK_MARKER.replace(b'relation="p-p"', b'relation="p-c"')
    assert the_only(cot.import_document(pli)).origin.sender == "Armed suspect"
    bare = the_only(
        cot.import_document(event().replace(b"</event>", b"<detail><remarks>Roger\nout</remarks></detail></event>"))
    )
    assert (bare.origin.sender, bare.title, bare.location) == (
        "unknown",
        "Roger",
        {"lat": 50.85, "lon": 4.35, "place": ""},
    )
    assert the_only(cot.import_document(event(type="b-m-p-s-m"))).title == "CoT b-m-p-s-m"


@pytest.mark.parametrize(
    ("kind", "category"),
    [
        ("a-h-G", "terrorism"),
        ("a-j-G-U", "terrorism"),
        ("a-s-G", "manhunt"),
        ("a-k-G", "manhunt"),
        ("a-u-G", "other"),
        ("a-n-G", "other"),
        ("b-m-p-s-m", "other"),
        ("b-r-f-h-c", "other"),
    ],
)
def test_the_affiliation_of_an_atom_gives_the_category(kind: str, category: str) -> None:
    assert the_only(cot.import_document(event(type=kind))).category == category


def test_a_tak_delete_event_cancels_the_marker_it_names() -> None:
    delete = event(type="t-x-d-d", uid="delete-1").replace(
        b"</event>", b'<detail><link uid="marker-7" relation="none" type="none"/><__forcedelete/></detail></event>'
    )
    assert cot.import_document(delete) == [Imported(Origin("cot", "unknown", "marker-7"), "cancel", None)]


@pytest.mark.parametrize(
    ("opex", "marker"),
    [
        ("e-Blue Lynx 2025", "Blue Lynx 2025"),
        ("e", "CoT exercise"),
        ("s-Tabletop", "Tabletop"),
        ("s", "CoT simulation"),
        ("o-Daily ops", None),
        ("o", None),
        ("", None),
    ],
)
def test_opex_maps_to_our_exercise_marker(opex: str, marker: str | None) -> None:
    assert the_only(cot.import_document(event(opex=opex))).exercise == marker


def test_an_exercise_incident_is_exported_with_opex_e_and_its_name() -> None:
    root = etree.fromstring(cot.export(incident(exercise="Blue Lynx - day 2"), CTX) or b"")
    assert root.get("opex") == "e-Blue Lynx - day 2"
    assert the_only(cot.import_document(cot.export(incident(exercise="Blue Lynx - day 2"), CTX) or b"")).exercise == (
        "Blue Lynx - day 2"
    )


# --- refusals ---

REFUSED = [
    (event(version="1.0"), "event/@version: 1.0 is below 2"),
    (event(version=""), "event/@version: missing"),
    (event(type="a--G"), "event/@type: 'a--G' does not match"),
    (event(uid=""), "event/@uid: missing"),
    (event(uid="x" * (limits.origin_chars_max + 1)), "event/@uid: identifier has 1024 characters"),
    (event(time="today"), "event/@time: 'today' is not a date-time"),
    (event(stale=""), "event/@stale: missing"),
    (event(how="h e"), "event/@how: 'h e' does not match"),
    (event(opex="exercise"), "event/@opex: 'exercise' is not o[-name], e[-name] or s[-name]"),
    (event(qos="high"), "event/@qos: 'high' does not match"),
    (event().replace(b'lat="50.85"', b'lat="91"'), "event/point/@lat: 91 is outside -90..90"),
    (event().replace(b'lon="4.35"', b'lon="east"'), "event/point/@lon: 'east' is not a decimal number"),
    (event().replace(b' le="10"', b""), "event/point/@le: missing"),
    (event().replace(b"<point", b"<detail/><detail/><point"), "event/detail: repeated; at most one"),
    (event().replace(b"<point", b"<remarks/><point"), "event/remarks: not an element of event"),
    (event().replace(b'<point lat="50.85" lon="4.35" hae="0" ce="10" le="10"/>', b"<detail/>"), "event/point: missing"),
]


@pytest.mark.parametrize(("document", "problem"), REFUSED, ids=[p.split(":")[0] for _, p in REFUSED])
def test_an_event_breaking_the_schema_is_refused_naming_the_first_wrong_attribute(
    document: bytes, problem: str
) -> None:
    with pytest.raises(XmlRefused) as refused:
        cot.import_document(document)
    assert refused.value.reason == "invalid"
    assert str(refused.value).startswith(problem)


@needs_kit
@pytest.mark.parametrize(
    ("document", "problem"), [r for r in REFUSED if "@opex" not in r[1] and "@uid: identifier" not in r[1]], ids=str
)
def test_what_we_refuse_as_breaking_the_schema_the_kit_refuses_too(document: bytes, problem: str) -> None:
    assert kit.errors("cot", document) != []


HOSTILE = [
    (b'<!DOCTYPE event [<!ENTITY x "boom">]><event version="2.0">&x;</event>', "dtd"),
    (b'<!DOCTYPE event SYSTEM "file:///etc/passwd"><event/>', "dtd"),
    (
        event().replace(
            b"</event>", b"<detail><remarks>" + b"x" * limits.xml_bytes_max + b"</remarks></detail></event>"
        ),
        "too_large",
    ),
    (event().replace(b"</event>", b"<detail>" + b"<a>" * 40 + b"</a>" * 40 + b"</detail></event>"), "too_deep"),
    (event().replace(b"<event ", b"<Event ").replace(b"</event>", b"</Event>"), "wrong_root"),
    (event().replace(b"<event ", b'<event xmlns="urn:example:cot" '), "wrong_root"),
    (event()[:-3], "malformed"),
]


@pytest.mark.parametrize(("document", "reason"), HOSTILE, ids=[r for _, r in HOSTILE])
def test_hostile_documents_are_refused_before_anything_is_read(document: bytes, reason: str) -> None:
    with pytest.raises(XmlRefused) as refused:
        cot.import_document(document)
    assert refused.value.reason == reason
