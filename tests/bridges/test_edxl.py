"""EDXL-DE: envelopes valid against the kit's XSD (payloads too), every public example
imported, several content objects, the envelope's exercise status, refusals."""

import importlib.util
from typing import Any

import pytest
from hypothesis import given
from lxml import etree

from bridges import cap, edxl
from bridges.model import Incident
from bridges.xml import XmlRefused
from tests.bridges import kit
from tests.bridges.kit import needs_kit
from tests.bridges.test_cap import CTX, assert_same_fields, incidents, make_incident, media, range_of_incidents

needs_emsi = pytest.mark.skipif(importlib.util.find_spec("bridges.emsi") is None, reason="bridges.emsi not written yet")


def envelope(*objects: str, status: str = "Actual", ns: str = edxl.NS) -> bytes:
    """A distribution around content objects given as XML text."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><edxlDistribution xmlns="{ns}" '
        f'xmlns:xlink="http://www.w3.org/1999/xlink" xlink:type="extended">'
        "<distributionID>D-1</distributionID><senderID>hub@example.org</senderID>"
        "<dateTimeSent>2024-05-01T10:00:00+02:00</dateTimeSent>"
        "<dateTimeExpires>2024-05-02T10:00:00+02:00</dateTimeExpires>"
        f"<distributionStatus>{status}</distributionStatus><distributionKind>Report</distributionKind>"
        f"<content>{''.join(objects)}</content></edxlDistribution>"
    ).encode()


def xml_object(payload: bytes) -> str:
    body = payload.split(b"?>", 1)[1].decode()
    return f"<contentObject><contentXML><embeddedXMLContent>{body}</embeddedXMLContent></contentXML></contentObject>"


OTHER = "<contentObject><otherContent><mimeType>image/png</mimeType><uri>https://x.example/p.png</uri></otherContent></contentObject>"


# --- export ---


@needs_kit
@pytest.mark.parametrize("incident", range_of_incidents(), ids=lambda i: i["id"][-2:])
def test_every_export_of_a_range_of_incidents_is_valid_edxl_de_with_a_valid_cap_payload(incident: Incident) -> None:
    assert kit.errors("edxlde", edxl.export(incident, CTX)) == []


@needs_kit
@needs_emsi
@pytest.mark.parametrize("incident", range_of_incidents()[:6], ids=lambda i: i["id"][-2:])
def test_an_export_carrying_emsi_is_valid_edxl_de_with_a_valid_emsi_payload(incident: Incident) -> None:
    assert kit.errors("edxlde", edxl.export(incident, CTX, payload="emsi")) == []


def test_the_envelope_says_who_when_until_when_and_whether_it_is_an_exercise() -> None:
    incident = make_incident(exercise="Blue Shield", updated_at="2024-05-01T10:30:00.500Z", status="monitoring")
    root = etree.fromstring(edxl.export(incident, CTX))
    assert root.get("{http://www.w3.org/1999/xlink}type") == "extended"

    def text(name: str) -> str | None:
        return root.findtext(f"{{{edxl.NS}}}{name}")

    assert text("senderID") == f"qroc:{CTX.peer_id}"
    assert text("dateTimeSent") == "2024-05-01T10:30:00+00:00"
    assert text("dateTimeExpires") == "2024-05-02T10:40:00+00:00"  # a day after now (later than the update)
    assert text("distributionStatus") == "Exercise"
    assert text("distributionKind") == "Update"
    assert root.findtext(f".//{{{edxl.NS}}}incidentID") == incident["id"]
    real = etree.fromstring(edxl.export(make_incident(), CTX))
    assert real.findtext(f"{{{edxl.NS}}}distributionStatus") == "Actual"
    assert real.findtext(f"{{{edxl.NS}}}distributionKind") == "Report"


def test_media_items_are_content_objects_by_reference() -> None:
    root = etree.fromstring(edxl.export(make_incident(media=[media(1), media(2)]), CTX))
    others = root.findall(f".//{{{edxl.NS}}}otherContent")
    assert [o.findtext(f"{{{edxl.NS}}}uri") for o in others] == [
        f"{CTX.media_base}/{'01' * 32}",
        f"{CTX.media_base}/{'02' * 32}",
    ]
    assert [o.findtext(f"{{{edxl.NS}}}mimeType") for o in others] == ["image/jpeg", "image/jpeg"]
    assert root.find(f".//{{{edxl.NS}}}digest") is None  # EDXL's digest is SHA-1; the ni: content id names ours


# --- import ---


@needs_kit
@given(incidents())
def test_a_generated_incident_exports_valid_edxl_de_and_imports_back_the_same_fields(incident: Incident) -> None:
    document = edxl.export(incident, CTX)
    assert kit.errors("edxlde", document) == []
    distribution = edxl.read(document)
    [imported] = distribution.imported
    assert_same_fields(imported, incident)
    assert distribution.ignored == len(incident["media"])


@needs_kit
@pytest.mark.parametrize("path", kit.examples("edxlde"), ids=lambda p: p.name)
def test_every_valid_kit_example_imports(path: Any) -> None:
    distribution = edxl.read(path.read_bytes())
    assert distribution.origin.format == "edxl-de" and distribution.origin.identifier
    alerts = path.read_bytes().count(b"<cap:alert ")
    assert len(distribution.imported) == alerts
    assert distribution.ignored == (0 if alerts else 1)  # the SAMU-Hub examples carry CISU messages
    for imported in distribution.imported:
        assert imported.title and imported.severity and imported.origin.format == "cap"


@needs_kit
@pytest.mark.parametrize("path", kit.examples("edxlde", valid=False), ids=lambda p: p.name)
def test_the_kits_invalid_examples_are_refused(path: Any) -> None:
    with pytest.raises(XmlRefused):
        edxl.import_document(path.read_bytes())


def test_several_content_objects_give_one_import_per_cap_alert_and_ignore_the_rest() -> None:
    first = cap.export(make_incident(id="a1" * 32, title="First"), CTX)
    second = cap.export(make_incident(id="b2" * 32, title="Second", severity="low"), CTX)
    distribution = edxl.read(envelope(xml_object(first), OTHER, xml_object(second)))
    assert [i.title for i in distribution.imported] == ["First", "Second"]
    assert distribution.ignored == 1
    assert distribution.origin.sender == "hub@example.org"


@pytest.mark.parametrize(
    ("envelope_status", "payload_exercise", "marker"),
    [
        ("Actual", None, None),
        ("Exercise", None, "EDXL-DE exercise"),
        ("Test", None, "EDXL-DE test"),
        ("Actual", "Blue Shield", "Blue Shield"),  # an exercise payload stays one
        ("Exercise", "Blue Shield", "Blue Shield"),
        ("Unknown", None, None),
    ],
)
def test_the_envelope_status_can_make_traffic_an_exercise_but_never_real(
    envelope_status: str, payload_exercise: str | None, marker: str | None
) -> None:
    payload = cap.export(make_incident(exercise=payload_exercise), CTX)
    [imported] = edxl.import_document(envelope(xml_object(payload), status=envelope_status))
    assert imported.exercise == marker


def test_an_exercise_export_round_trips_its_marker_and_a_real_one_stays_real() -> None:
    for exercise in ("Blue Shield", None):
        [imported] = edxl.import_document(edxl.export(make_incident(exercise=exercise), CTX))
        assert imported.exercise == exercise


def test_an_envelope_missing_a_required_element_is_refused_naming_it() -> None:
    document = envelope(OTHER).replace(b"<dateTimeExpires>2024-05-02T10:00:00+02:00</dateTimeExpires>", b"")
    with pytest.raises(XmlRefused, match=r"^edxlDistribution/dateTimeExpires: missing$") as refused:
        edxl.import_document(document)
    assert refused.value.reason == "invalid"
    with pytest.raises(XmlRefused, match="distributionStatus: 'Practice' is not one of Actual"):
        edxl.import_document(envelope(OTHER, status="Practice"))


def test_a_wrong_payload_is_refused_naming_its_content_object() -> None:
    bad = cap.export(make_incident(), CTX).replace(b"<severity>Severe</severity>", b"<severity>Bad</severity>")
    with pytest.raises(XmlRefused) as refused:
        edxl.import_document(envelope(OTHER, xml_object(bad)))
    assert str(refused.value).startswith(
        "edxlDistribution/content/contentObject[2]/contentXML/embeddedXMLContent/alert/info[1]/severity: 'Bad'"
    )


def test_a_cap_ack_inside_an_envelope_is_ignored_not_refused() -> None:
    ack = cap.export(make_incident(), CTX).replace(b"<msgType>Alert</msgType>", b"<msgType>Ack</msgType>")
    distribution = edxl.read(envelope(xml_object(ack)))
    assert (distribution.imported, distribution.ignored) == ((), 1)


def test_edxl_de_1_0_is_accepted() -> None:
    payload = xml_object(cap.export(make_incident(), CTX)).replace("contentXML", "xmlContent")
    document = (
        f'<EDXLDistribution xmlns="{edxl.NS_10}"><distributionID>D</distributionID><senderID>s</senderID>'
        "<dateTimeSent>2024-05-01T10:00:00Z</dateTimeSent><distributionStatus>Exercise</distributionStatus>"
        "<distributionType>Report</distributionType><combinedConfidentiality>UNCLASSIFIED</combinedConfidentiality>"
        f"{payload}</EDXLDistribution>"
    ).encode()
    [imported] = edxl.import_document(document)
    assert (imported.title, imported.exercise) == ("Suspicious parcel at Hauptbahnhof", "EDXL-DE exercise")


@needs_emsi
@needs_kit
def test_an_emsi_payload_becomes_an_import() -> None:
    [example, *_] = kit.examples("emsi")
    distribution = edxl.read(envelope(xml_object(example.read_bytes())))
    [imported] = distribution.imported
    assert imported.origin.format == "emsi"


@needs_emsi
def test_an_emsi_export_imports_back_through_the_envelope() -> None:
    [imported] = edxl.import_document(edxl.export(make_incident(exercise="Blue Shield"), CTX, payload="emsi"))
    assert (imported.origin.format, imported.exercise) == ("emsi", "Blue Shield")


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (b'<?xml version="1.0"?><!DOCTYPE edxlDistribution><edxlDistribution/>', "dtd"),
        (
            envelope(OTHER)
            .replace(b"<content>", b"<content>" + b"<a>" * 40)
            .replace(b"</content>", b"</a>" * 40 + b"</content>"),
            "too_deep",
        ),
        (envelope(OTHER, ns="urn:oasis:names:tc:emergency:EDXL:DE:3.0"), "wrong_root"),
    ],
)
def test_a_hostile_or_foreign_envelope_is_refused(document: bytes, reason: str) -> None:
    with pytest.raises(XmlRefused) as refused:
        edxl.import_document(document)
    assert refused.value.reason == reason
    if reason == "wrong_root":
        assert "EDXLDistribution" in str(refused.value) and "edxlDistribution" in str(refused.value)
