"""Seed corpora of the document targets: XML from the bridges' exporters and from other
systems, and an MSEL.

Rules:
- Our own documents come from the bridges' `export` of incidents built here (real, an
  exercise, updated, closed, with media, unlocated): what a peer running QROC sends.
- Other systems' documents are written here by hand, small, for what our exporters never
  write: several infos in other languages, polygons, references, EDXL-DE 1.0, a CoT delete.
- The MSEL is written here too, one inject of each kind: the shipped MSELs are 30-40 KB,
  too big for a mutation to stay cheap.
"""

from typing import Any

from bridges import cap, cot, edxl, emsi
from bridges.model import Context, Incident

CTX = Context("OC Belgium", "BE", "12D3KooWQrocBelgium", "https://oc-be.example/v1/media", 1_763_786_000_000)
_PHOTO = {"id": "cd" * 32, "name": "scene.jpg", "mime": "image/jpeg", "size": 10, "sha256": "00" * 32}


def incident(**changes: Any) -> Incident:
    """A located, real, open incident as the API shows it; `changes` replace fields."""
    base = {
        "id": "ab" * 32,
        "title": "Suspicious package at Brussels-Midi",
        "description": "Unattended bag on platform 3.\nArea cordoned.",
        "category": "terrorism",
        "severity": "high",
        "status": "open",
        "location": {"lat": 50.8358, "lon": 4.3364, "place": "Brussels-Midi"},
        "tags": ["station", "ied?"],
        "exercise": None,
        "created_at": "2025-11-22T09:00:00.000Z",
        "updated_at": "2025-11-22T09:00:00.000Z",
        "author": {"name": "OC Belgium", "country": "BE", "peer_id": "12D3KooWQrocBelgium", "public_key": "aa" * 32},
        "operator": "J. Peeters",
        "comments": None,
        "media": [],
        "origin": None,
    }
    return {**base, **changes}  # type: ignore[return-value]


def _incidents() -> list[Incident]:
    later = "2025-11-22T10:30:00.250Z"
    return [
        incident(),
        incident(updated_at=later, exercise="drill-7", category="cbrne", media=[_PHOTO]),
        incident(updated_at=later, status="closed", location=None, tags=[]),
        incident(
            category="manhunt", severity="critical", description="", location={"lat": -33.5, "lon": 151.25, "place": ""}
        ),
    ]


_FOREIGN_CAP = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>KAS-2025-0042</identifier><sender>warn@kas.example</sender>
  <sent>2025-11-22T09:10:00-00:00</sent><status>Exercise</status><msgType>Update</msgType>
  <scope>Public</scope><note>QROC exercise: border drill</note>
  <references>warn@kas.example,KAS-2025-0041,2025-11-22T09:00:00-00:00</references>
  <info><language>de-DE</language><category>Security</category><event>Fahndung</event>
    <urgency>Immediate</urgency><severity>Severe</severity><certainty>Likely</certainty></info>
  <info><language>en-GB</language><category>Security</category><category>CBRNE</category>
    <event>Wanted suspect, possible explosive</event><responseType>Avoid</responseType>
    <urgency>Expected</urgency><severity>Extreme</severity><certainty>Possible</certainty>
    <headline>Fugitive seen near Aachen \xe9tape</headline><description>Avoid the area.</description>
    <instruction>Call 110.</instruction>
    <parameter><valueName>qroc:tag</valueName><value>border</value></parameter>
    <area><areaDesc>Aachen south</areaDesc>
      <polygon>50.7,6.0 50.8,6.1 50.75,6.2 50.7,6.0</polygon><circle>50.77,6.08 2.5</circle></area></info>
</alert>"""

_EDXL_10 = b"""<?xml version="1.0" encoding="UTF-8"?>
<EDXLDistribution xmlns="urn:oasis:names:tc:emergency:EDXL:DE:1.0">
  <distributionID>DE-1</distributionID><senderID>hub@example.org</senderID>
  <dateTimeSent>2025-11-22T09:10:00-00:00</dateTimeSent><distributionStatus>Test</distributionStatus>
  <distributionType>Report</distributionType><combinedConfidentiality>UNCLASSIFIED</combinedConfidentiality>
  <contentObject><xmlContent><embeddedXMLContent>
    <alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>A1</identifier><sender>s@x</sender>
      <sent>2025-11-22T09:10:00+01:00</sent><status>Actual</status><msgType>Alert</msgType><scope>Restricted</scope>
    </alert></embeddedXMLContent></xmlContent></contentObject>
  <contentObject><nonXMLContent><mimeType>image/png</mimeType></nonXMLContent></contentObject>
</EDXLDistribution>"""

_COT_DELETE = b"""<event version="2.0" uid="drop-1" type="t-x-d-d" time="2025-11-22T09:10:00Z"
  start="2025-11-22T09:10:00Z" stale="2025-11-22T09:20:00Z" how="h-g-i-g-o" opex="s-sim" qos="1-r-c">
  <point lat="0" lon="0" hae="0" ce="9999999" le="9999999"/>
  <detail><link uid="qroc-abab" relation="p-p"/><link uid="marker-7" relation="p-c"/></detail></event>"""


def caps() -> list[bytes]:
    return [*(cap.export(i, CTX) for i in _incidents()), _FOREIGN_CAP]


def edxls() -> list[bytes]:
    ours = [edxl.export(i, CTX, payload) for i in _incidents()[:2] for payload in ("cap", "emsi")]  # type: ignore[arg-type]
    return [*ours, _EDXL_10]


def emsis() -> list[bytes]:
    return [emsi.export(i, CTX) for i in _incidents()]


def cots() -> list[bytes]:
    return [*(d for i in _incidents() if (d := cot.export(i, CTX)) is not None), _COT_DELETE]


_MSEL = '''[exercise]
name = "border-drill"
title = "Border drill: a fugitive crossing into Belgium"
version = 1
controller = "BE"
participants = ["BE", "DE", "NL"]
duration = "01:30:00"
objectives = ["DE warns BE and NL within 5 minutes"]
briefing = """A fictional fugitive.
Play the OC-to-OC exchange."""

[[inject]]
id = "B01"
at = "00:00:00"
to = "all"
kind = "message"
text = "EXCON: STARTEX."
expected = ["All OCs acknowledge"]

[[inject]]
id = "B02"
at = "00:05:00"
to = ["BE", "DE"]
kind = "incident"
title = "Fugitive seen near Aachen"
category = "manhunt"
severity = "high"
status = "open"
description = "Dark car, two occupants."
location = { lat = 50.7753, lon = 6.0839, place = "Aachen" }
tags = ["border", "vehicle"]
expected = ["DE shares the description"]

[[inject]]
id = "B03"
at = "00:10:00"
to = ["DE"]
kind = "update"
incident = "B02"
severity = "critical"
tags = ["armed"]
expected = ["DE raises the severity"]

[[inject]]
id = "B04"
at = "01:00:00"
to = ["BE", "DE"]
kind = "media"
incident = "B02"
text = "CCTV still"
attachments = ["files/cctv.png", "files/notes/plates.csv"]
expected = ["BE checks the plates"]
'''
# The files beside _MSEL, as the node finds them: what `parse` checks the attachments against.
MSEL_FILES = {"files/cctv.png": 28_242, "files/notes/plates.csv": 999}


def msels() -> list[bytes]:
    return [_MSEL.encode()]
