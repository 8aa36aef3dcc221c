"""EDXL-DE 2.0 (OASIS Distribution Element): an envelope around a CAP alert or an EMSI
message, with the incident's media items by reference; and back (2.0 and 1.0).

Export rules (docs/standards.md has the tables):
- distributionID `qroc-{incident id}-{updated_at compact}-{payload}`, senderID
  `qroc:{peer id}` (as CAP's sender), dateTimeSent = updated_at, dateTimeExpires =
  the later of updated_at and now, plus EXPIRES_AFTER_MS; CAP-style no-Z times.
- distributionStatus as CAP's status (Actual only for real traffic); distributionKind
  Report / Update / Cancel as CAP's msgType Alert / Update / Cancel.
- descriptor: keyword (our category, tags) under `urn:qroc:category` / `urn:qroc:tag`,
  targetAreas with a GML point (EPSG:4326, "lat lon"), urgency / severity / certainty as
  CAP's, incidentID = incident id, incidentDescription = title.
- content: one contentObject with the payload in embeddedXMLContent (cap.to_element or
  emsi.to_element), then one per media item: otherContent with mimeType, size and uri
  `{media_base}/{id}`; contentID the media id and its RFC 6920 name `ni:///sha-256;...`
  (EDXL's digest is SHA-1, which we do not have).
Import rules:
- `xml.parse` with root edxlDistribution (2.0), else EDXLDistribution (1.0, accepted: a
  public CAP feed sends it). The envelope's required elements in schema order are
  checked, the first missing or wrong one raises XmlRefused("invalid", path: problem).
- Every payload that is a CAP alert or an EMSI message (the top element of an
  embeddedXMLContent) becomes one Imported, via cap.from_element / emsi.from_element
  (their errors carry the contentObject's path). Other payloads, non-XML content and
  CAP Ack / Error / Draft payloads are ignored and counted (`Distribution.ignored`).
- Exercise: not real if either says so. An envelope Exercise / Test / System makes a
  real payload an exercise ("EDXL-DE exercise", "... test", "... system"); an exercise
  payload keeps its marker under an Actual envelope; Unknown / NoAppropriateDefault
  leave the payload's.
"""

import base64
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from lxml import etree

from . import cap, emsi
from .model import Context, Imported, Incident, Origin
from .text import check_identifier, refused
from .xml import XmlRefused, parse

NS = "urn:oasis:names:tc:emergency:EDXL:DE:2.0"
NS_10 = "urn:oasis:names:tc:emergency:EDXL:DE:1.0"
XLINK = "http://www.w3.org/1999/xlink"
CT = "urn:oasis:names:tc:emergency:edxl:ct:1.0"
GSF = "urn:oasis:names:tc:emergency:edxl:gsf:1.0"
GML = "http://www.opengis.net/gml/3.2"
# How long a receiver may treat an exported distribution as current (dateTimeExpires is
# required in 2.0): a day, past the time it is sent; a newer export supersedes it anyway.
EXPIRES_AFTER_MS = 24 * 3600 * 1000
KIND = {"Alert": "Report", "Update": "Update", "Cancel": "Cancel"}
STATUS = {
    NS: ("Actual", "Exercise", "System", "Test", "Unknown", "NoAppropriateDefault"),
    NS_10: ("Actual", "Exercise", "System", "Test"),
}
KINDS_20 = ("Report", "Update", "Cancel", "Request", "Response", "Dispatch", "Ack", "Error")
KINDS_SENSOR = ("SensorConfiguration", "SensorControl", "SensorStatus", "SensorDetection")
ENVELOPE = {
    NS: [
        ("distributionID", None),
        ("senderID", None),
        ("dateTimeSent", "time"),
        ("dateTimeExpires", "time"),
        ("distributionStatus", STATUS[NS]),
        ("distributionKind", (*KINDS_20, *KINDS_SENSOR, "Unknown", "NoAppropriateDefault")),
    ],
    NS_10: [
        ("distributionID", None),
        ("senderID", None),
        ("dateTimeSent", None),
        ("distributionStatus", STATUS[NS_10]),
        ("distributionType", (*KINDS_20, *KINDS_SENSOR)),
        ("combinedConfidentiality", None),
    ],
}


@dataclass(frozen=True, slots=True)
class Distribution:
    """An imported envelope: who sent it, its status, the incidents its payloads say, and
    how many content objects were not CAP or EMSI (media, other standards, acks)."""

    origin: Origin
    status: str
    imported: tuple[Imported, ...]
    ignored: int


def _sub(parent: etree._Element, name: str, text: str | None = None, ns: str = NS) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{name}")
    element.text = text
    return element


def _keyword(descriptor: etree._Element, list_uri: str, values: list[str]) -> None:
    keyword = _sub(descriptor, "keyword")
    _sub(keyword, "ValueListURI", list_uri, CT)
    for value in values:
        _sub(keyword, "Value", value, CT)


def _descriptor(root: etree._Element, incident: Incident) -> None:
    descriptor = _sub(root, "descriptor")
    _keyword(descriptor, "urn:qroc:category", [incident["category"]])
    if incident["tags"]:
        _keyword(descriptor, "urn:qroc:tag", incident["tags"])
    location = incident["location"]
    if location is not None:
        areas = _sub(descriptor, "targetAreas")
        _sub(areas, "areaKind", "SourceTargetArea")
        _sub(areas, "areaGrouping", "Union")
        geo = _sub(_sub(areas, "targetArea"), "EDXLGeoLocation", ns=GSF)
        point = _sub(geo, "Point", ns=GML)
        point.set(f"{{{GML}}}id", "incident-location")
        point.set("srsName", "urn:ogc:def:crs:EPSG::4326")
        _sub(point, "pos", f"{location['lat']:.7f} {location['lon']:.7f}", GML)
    _sub(descriptor, "urgency", cap.URGENCY[incident["status"]])
    _sub(descriptor, "severity", cap.SEVERITY[incident["severity"]])
    _sub(descriptor, "certainty", "Observed")
    _sub(descriptor, "incidentID", incident["id"])
    _sub(descriptor, "incidentDescription", incident["title"])


def to_element(incident: Incident, ctx: Context, payload: Literal["cap", "emsi"] = "cap") -> etree._Element:
    root = etree.Element(
        f"{{{NS}}}edxlDistribution", nsmap={None: NS, "xlink": XLINK, "ct": CT, "edxl-gsf": GSF, "gml": GML}
    )
    root.set(f"{{{XLINK}}}type", "extended")
    sent = cap.moment(incident["updated_at"])
    now = datetime.fromtimestamp(ctx.now_ms / 1000, UTC)
    for name, text in [
        ("distributionID", f"{cap.identifier(incident, incident['updated_at'])}-{payload}"),
        ("senderID", cap.sender(ctx)),
        ("dateTimeSent", cap.cap_time(sent)),
        ("dateTimeExpires", cap.cap_time(max(sent, now) + timedelta(milliseconds=EXPIRES_AFTER_MS))),
        ("distributionStatus", cap.status_of(incident["exercise"])),
        ("distributionKind", KIND[cap.message_type(incident)]),
    ]:
        _sub(root, name, text)
    _descriptor(root, incident)
    content = _sub(root, "content")
    carried = _sub(content, "contentObject")
    what = "CAP 1.2 alert" if payload == "cap" else "EMSI message"
    _sub(_sub(carried, "contentDescriptor"), "contentDescription", f"{what}: {incident['title']}")
    element = cap.to_element(incident, ctx) if payload == "cap" else emsi.to_element(incident, ctx)
    _sub(_sub(carried, "contentXML"), "embeddedXMLContent").append(element)
    for item in incident["media"]:
        media = _sub(content, "contentObject")
        descriptor = _sub(media, "contentDescriptor")
        _sub(descriptor, "contentDescription", item["name"])
        _sub(descriptor, "contentID", item["id"])
        named = base64.urlsafe_b64encode(bytes.fromhex(item["sha256"])).rstrip(b"=").decode()
        _sub(descriptor, "contentID", f"ni:///sha-256;{named}")
        other = _sub(media, "otherContent")
        _sub(other, "mimeType", item["mime"])
        _sub(other, "size", str(item["size"]))
        _sub(other, "uri", f"{ctx.media_base}/{item['id']}")
    return root


def export(incident: Incident, ctx: Context, payload: Literal["cap", "emsi"] = "cap") -> bytes:
    return etree.tostring(to_element(incident, ctx, payload), xml_declaration=True, encoding="UTF-8")


# --- import ---


def _envelope(root: etree._Element, ns: str, top: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, rule in ENVELOPE[ns]:
        found = root.find(f"{{{ns}}}{name}")
        path = f"{top}/{name}"
        text = "" if found is None else "".join(found.itertext()).strip()
        if found is None or not text:
            raise refused(path, "missing" if found is None else "empty")
        if rule == "time" and not cap.TIME.fullmatch(text):
            raise refused(path, f"{text!r} is not a date-time like 2024-05-01T10:00:00+00:00")
        if isinstance(rule, tuple) and text not in rule:
            raise refused(path, f"{text!r} is not one of {', '.join(rule)}")
        values[name] = text
    return values


def _payloads(root: etree._Element, ns: str, top: str) -> list[tuple[str, etree._Element | None]]:
    """(path, top element of the XML payload, or None for other content) per object."""
    out: list[tuple[str, etree._Element | None]] = []
    if ns == NS:
        content = root.find(f"{{{NS}}}content")
        objects = [] if content is None else content.findall(f"{{{NS}}}contentObject")
        if content is not None and not objects:
            raise refused(f"{top}/content/contentObject", "missing")
        for i, obj in enumerate(objects, 1):
            path = f"{top}/content/contentObject[{i}]"
            xml, other = obj.find(f"{{{NS}}}contentXML"), obj.find(f"{{{NS}}}otherContent")
            if xml is None and other is None:
                raise refused(path, "has neither contentXML nor otherContent")
            if xml is None:
                out.append((path, None))
                continue
            embedded = xml.find(f"{{{NS}}}embeddedXMLContent")
            element = None if embedded is None else next(iter(e for e in embedded if isinstance(e.tag, str)), None)
            if element is None:
                raise refused(f"{path}/contentXML/embeddedXMLContent", "missing or empty")
            out.append((f"{path}/contentXML/embeddedXMLContent", element))
        return out
    for i, obj in enumerate(root.findall(f"{{{NS_10}}}contentObject"), 1):
        path = f"{top}/contentObject[{i}]"
        holders = obj.findall(f"{{{NS_10}}}xmlContent/{{{NS_10}}}embeddedXMLContent")
        elements = [e for holder in holders for e in holder if isinstance(e.tag, str)]
        out.extend((f"{path}/xmlContent/embeddedXMLContent", e) for e in elements)
        if not elements:
            out.append((path, None))
    return out


def _mark(imported: Imported, status: str) -> Imported:
    if status in ("Exercise", "Test", "System") and imported.exercise is None:
        return replace(imported, exercise=f"EDXL-DE {status.lower()}")
    return imported


def _one(path: str, element: etree._Element) -> list[Imported] | None:
    try:
        if element.tag == f"{{{cap.NS}}}alert":
            return cap.from_element(element)
        if element.tag == emsi.ROOT:
            return [emsi.from_element(element)]
    except XmlRefused as exc:
        if exc.reason == "unsupported":
            return None
        raise XmlRefused(exc.reason, f"{path}/{exc}") from None
    return None


def read(data: bytes) -> Distribution:
    try:
        root = parse(data, f"{{{NS}}}edxlDistribution", "EDXL-DE distribution")
    except XmlRefused as exc:
        if exc.reason != "wrong_root":
            raise
        try:
            root = parse(data, f"{{{NS_10}}}EDXLDistribution", "EDXL-DE distribution")
        except XmlRefused as again:
            if again.reason != "wrong_root":
                raise
            raise XmlRefused("wrong_root", f"{exc}, nor EDXL-DE 1.0's {{{NS_10}}}EDXLDistribution") from None
    ns = etree.QName(root).namespace or NS
    top = etree.QName(root).localname
    head = _envelope(root, ns, top)
    origin = Origin(
        "edxl-de",
        check_identifier(f"{top}/senderID", head["senderID"]),
        check_identifier(f"{top}/distributionID", head["distributionID"]),
    )
    imported: list[Imported] = []
    ignored = 0
    for path, element in _payloads(root, ns, top):
        found = None if element is None else _one(path, element)
        if found is None:
            ignored += 1
        else:
            imported.extend(_mark(i, head["distributionStatus"]) for i in found)
    return Distribution(origin, head["distributionStatus"], tuple(imported), ignored)


def import_document(data: bytes) -> list[Imported]:
    return list(read(data).imported)
