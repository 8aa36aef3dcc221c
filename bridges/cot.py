"""Cursor-on-Target: an incident as a CoT 2.0 event (a TAK map marker), and an event as an incident.

Schema: the MITRE CoT 2.0 base event (root `event`, no namespace; `point` required,
`detail` free). TAK conventions are used inside `detail`. docs/standards.md has the
mapping tables.

Export rules:
- Only a located incident is exported (a CoT event needs a point): `export` and
  `stream_event` return None for one without a location.
- `uid` is "qroc-<incident id>": stable, so a TAK client replaces the marker on each change.
- `type` is an atom on the ground: "a-h-G" (hostile) for terrorism, "a-s-G" (suspect) for a
  manhunt, "a-u-G" (unknown) for the rest; `how` is "h-e" (human, estimated).
- `time` and `start` are `updated_at`; `stale` is STALE_MS after the later of now
  (`ctx.now_ms`) and `updated_at`, or `updated_at` itself for a closed incident, so that
  TAK drops its marker.
- `point`: lat/lon to 1e-7 degree; hae, ce and le 9999999.0 ("unknown", as TAK writes).
- `opex` is "e-<exercise name>" for an exercise incident (the name verbatim: the schema
  allows any string), absent for a real one.
- `detail`: `contact/@callsign` = title (TAK's marker label); `remarks` = description, then
  our trailer line (bridges/text.py: exact category, severity, status, tags and place);
  `link relation="p-p"` = this node (uid = peer id, parent_callsign = member name).

Import rules:
- The event is checked first: version (decimal >= 2), type, uid (our origin rule), time,
  start, stale (xs:dateTime), how, opex (o/e/s[-name]) and qos patterns; exactly one
  point and at most one detail, nothing else; point lat in -90..90, lon in -180..180,
  hae, ce, le decimals. The first wrong one refuses it: XmlRefused("invalid", "<path>: ...").
- Origin: ("cot", detail/link[@relation='p-p']/@uid, else detail/contact/@callsign, else
  "unknown", @uid): the same uid posted again maps to the same incident.
- Only what an OC would call an incident is one (a TAK client sends much else, several
  times a minute): atoms (`a-…`) of any affiliation but friend and assumed friend, map
  points (`b-m-p-…`: spot markers, waypoints), alerts (`b-a-…`: the emergency beacon) and
  reports (`b-r-…`: a casualty evacuation request). A friendly atom (a TAK device's own
  position report is `a-f-G-U-C`), a chat message (`b-t-f`), a route (`b-m-r`), a drawing
  or range and bearing line (`u-…`) and a control or tasking message (`t-…`) raise
  NotAnIncident naming what it is: checked like any event, then nothing is written.
- Action "alert" (a CoT event is the object's whole state); a "t-x-d-d" (delete) event is
  a "cancel" of the uid its first non-producer link names (else its own uid), and a
  "b-a-o-can" (an emergency called off) a "cancel" of its own uid (TAK gives the
  emergency and its cancellation the same uid).
- Exercise marker from @opex: "e[-NAME]" -> NAME or "CoT exercise", "s[-NAME]" -> NAME or
  "CoT simulation", "o[-NAME]" or absent -> None (real).
- Title: callsign, else the first line of the remarks, else "CoT <type>". Description:
  the remarks (before our trailer, if any). Location: the point, place = callsign (or our
  trailer's place); lat = lon = 0 is TAK's "no position" (chat, routes) and gives none.
- Category from our trailer, else from the type's affiliation: hostile (h) or joker (j)
  -> terrorism, suspect (s) or faker (k) -> manhunt, else other. Severity from the trailer,
  else medium (CoT has none); status and tags from the trailer only.
"""

import re
from datetime import UTC, datetime
from decimal import Decimal

from lxml import etree

from protocol import limits

from .model import Category, Context, Imported, Incident, Location, NotAnIncident, Origin
from .text import (
    Trailer,
    check_datetime,
    check_decimal,
    check_identifier,
    degrees,
    free_text,
    line_text,
    read_trailer,
    refused,
    with_trailer,
)
from .xml import parse

# A marker outlives the last export by a day: the stream re-sends it on every change, and a
# TAK client that heard nothing for a day greys it out rather than show a stale incident.
STALE_MS = 24 * 3600 * 1000
UNKNOWN = "9999999.0"
TYPES: dict[str, str] = {"terrorism": "a-h-G", "manhunt": "a-s-G"}
DEFAULT_TYPE = "a-u-G"
_AFFILIATION: dict[str, Category] = {"h": "terrorism", "j": "terrorism", "s": "manhunt", "k": "manhunt"}
# The type families that describe an incident (see the import rules), and what the others are.
_INCIDENT_FAMILIES = ("a-", "b-m-p-", "b-a-", "b-r-")
_NOT_INCIDENTS: tuple[tuple[str, str], ...] = (
    ("a-f-", "a friendly position (a TAK device reports its own so)"),
    ("a-a-", "a friendly position (a TAK device reports its own so)"),
    ("b-t-f", "a chat message"),
    ("b-m-r", "a route"),
    ("u-", "a drawing or a range and bearing line"),
    ("t-", "a control or tasking message"),
)
_TYPE = r"\w+(-\w+)*(;[^;]*)?"
_HOW = r"\w(-\w+)*"
_QOS = r"\d-\w-\w"


def _ms(rfc3339: str) -> int:
    return int(datetime.fromisoformat(rfc3339).timestamp() * 1000)


def _rfc3339(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_element(incident: Incident, ctx: Context) -> etree._Element | None:
    """The incident as a CoT `event` element, or None if it has no location."""
    location = incident["location"]
    if location is None:
        return None
    updated = incident["updated_at"]
    start_ms = _ms(updated)
    stale_ms = start_ms if incident["status"] == "closed" else max(ctx.now_ms, start_ms) + STALE_MS
    attributes = {
        "version": "2.0",
        "uid": f"qroc-{incident['id']}",
        "type": TYPES.get(incident["category"], DEFAULT_TYPE),
    }
    attributes |= {"time": updated, "start": updated, "stale": _rfc3339(stale_ms), "how": "h-e"}
    if incident["exercise"] is not None:
        attributes["opex"] = f"e-{incident['exercise']}"
    event = etree.Element("event", attributes)
    unknown = {"hae": UNKNOWN, "ce": UNKNOWN, "le": UNKNOWN}
    etree.SubElement(event, "point", {"lat": degrees(location["lat"]), "lon": degrees(location["lon"]), **unknown})
    detail = etree.SubElement(event, "detail")
    etree.SubElement(detail, "contact", {"callsign": incident["title"]})
    tags = tuple(sorted(incident["tags"]))
    ours = Trailer(incident["category"], incident["severity"], incident["status"], tags, location["place"])
    etree.SubElement(detail, "remarks").text = with_trailer(incident["description"], ours)
    producer = {"uid": ctx.peer_id, "type": "a-f-G", "relation": "p-p", "parent_callsign": ctx.node_name}
    etree.SubElement(detail, "link", producer)
    return event


def export(incident: Incident, ctx: Context) -> bytes | None:
    """The CoT event: UTF-8 with an XML declaration, valid against the MITRE base schema;
    None for an incident without a location."""
    event = to_element(incident, ctx)
    return None if event is None else etree.tostring(event, xml_declaration=True, encoding="UTF-8")


def stream_event(incident: Incident, ctx: Context) -> bytes | None:
    """The same event without the XML declaration, to write on a TAK server's TCP stream
    (which takes concatenated <event> documents)."""
    event = to_element(incident, ctx)
    return None if event is None else etree.tostring(event, xml_declaration=False, encoding="UTF-8")


# --- import ---


def _match(path: str, value: str, pattern: str) -> None:
    if not re.fullmatch(pattern, value):
        raise refused(path, f"{value!r} does not match {pattern}")


def _get(element: etree._Element, path: str, name: str) -> str:
    value = element.get(name)
    if value is None:
        raise refused(f"{path}/@{name}", "missing")
    return value


def _opex(value: str) -> tuple[str, str] | None:
    """(kind, name) from o/e/s[-name]; None for operations (real traffic)."""
    kind, dash, name = value.partition("-")
    if kind not in ("o", "e", "s") or (not dash and name):
        raise refused("event/@opex", f"{value!r} is not o[-name], e[-name] or s[-name]")
    return None if kind == "o" else (kind, name)


def _check(event: etree._Element) -> etree._Element:
    """Refuse the event naming its first wrong attribute or element; its point if it passes."""
    version = _get(event, "event", "version")
    if check_decimal("event/@version", version) < 2:
        raise refused("event/@version", f"{version.strip()} is below 2")
    _match("event/@type", _get(event, "event", "type"), _TYPE)
    check_identifier("event/@uid", _get(event, "event", "uid"))
    for name in ("time", "start", "stale"):
        check_datetime(f"event/@{name}", _get(event, "event", name))
    _match("event/@how", _get(event, "event", "how"), _HOW)
    if (opex := event.get("opex")) is not None:
        _opex(opex)
    if (qos := event.get("qos")) is not None:
        _match("event/@qos", qos, _QOS)
    children = [c for c in event if isinstance(c.tag, str)]
    for child in children:
        if child.tag not in ("point", "detail"):
            raise refused(f"event/{child.tag}", "not an element of event (point and detail only)")
        if sum(c.tag == child.tag for c in children) > 1:
            raise refused(f"event/{child.tag}", "repeated; at most one")
    point = event.find("point")
    if point is None:
        raise refused("event/point", "missing")
    for name, low, high in (("lat", -90, 90), ("lon", -180, 180), ("hae", None, None), ("ce", None, None)):
        check_decimal(f"event/point/@{name}", _get(point, "event/point", name), low, high)
    check_decimal("event/point/@le", _get(point, "event/point", "le"))
    return point


def _exercise(opex: str | None) -> str | None:
    marking = None if opex is None else _opex(opex)
    if marking is None:
        return None
    kind, name = marking
    return line_text(name, limits.exercise_chars_max) or ("CoT exercise" if kind == "e" else "CoT simulation")


def _an_incident(kind: str) -> None:
    """NotAnIncident unless an event of type `kind` describes an incident."""
    what = next((what for prefix, what in _NOT_INCIDENTS if f"{kind}-".startswith(prefix)), None)
    if what is None and not kind.startswith(_INCIDENT_FAMILIES):
        what = "a kind of event that does not describe an incident"
    if what is not None:
        raise NotAnIncident(f"cot: {kind} is {what}; nothing is written")


def import_document(data: bytes) -> list[Imported]:
    """A CoT event (bytes) as the one incident it describes; XmlRefused if refused,
    NotAnIncident if it is valid and describes something else."""
    event = parse(data, "event", "cot")
    point = _check(event)
    detail = event.find("detail")
    if detail is None:
        detail = etree.Element("detail")
    contact = detail.find("contact")
    callsign = line_text(None if contact is None else contact.get("callsign"), limits.title_chars_max)
    links = list(detail.iterfind("link"))
    producer = next((link.get("uid") for link in links if link.get("relation") == "p-p" and link.get("uid")), None)
    sender = line_text(producer, limits.origin_chars_max) or callsign or "unknown"
    kind, uid, exercise = event.get("type", "").split(";")[0], event.get("uid", ""), _exercise(event.get("opex"))
    if kind.startswith("t-x-d-d"):
        target = next((link.get("uid") for link in links if link.get("relation") != "p-p" and link.get("uid")), uid)
        identifier = check_identifier("event/detail/link/@uid", target or "")
        return [Imported(Origin("cot", sender, identifier), "cancel", exercise)]
    if kind.startswith("b-a-o-can"):
        return [Imported(Origin("cot", sender, uid), "cancel", exercise)]
    _an_incident(kind)
    remarks = detail.find("remarks")
    text = free_text("".join(remarks.itertext()), 2 * limits.text_chars_max) if remarks is not None else ""
    found = read_trailer(text)
    ours = Trailer() if found is None else found[1]
    description = free_text(found[0]) if found is not None else free_text(text, tidy="trim")
    first_line = line_text(description.strip().split("\n")[0], limits.title_chars_max)
    lat, lon = (float(Decimal(point.get(name, "0").strip())) for name in ("lat", "lon"))
    place = ours.place if ours.place is not None else line_text(callsign, limits.place_chars_max)
    located = lat != 0 or lon != 0
    parts = kind.split("-")
    affiliation = parts[1] if parts[0] == "a" and len(parts) > 1 else ""
    return [
        Imported(
            origin=Origin("cot", sender, uid),
            action="alert",
            exercise=exercise,
            title=callsign or first_line or line_text(f"CoT {kind}", limits.title_chars_max),
            category=ours.category or _AFFILIATION.get(affiliation, "other"),
            severity=ours.severity or "medium",
            status=ours.status,
            description=description,
            location=Location(lat=round(lat, 7), lon=round(lon, 7), place=place) if located else None,
            tags=ours.tags,
        )
    ]
