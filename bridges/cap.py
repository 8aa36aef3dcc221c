"""CAP 1.2 (OASIS Common Alerting Protocol): one incident as one `alert`, and back.

Export rules (docs/standards.md has the tables):
- identifier `qroc-{incident id}-{updated_at as 20240501T100000123Z}`: one per incident
  state; sender `qroc:{peer id}` of the exporting node; sent = updated_at as `+00:00`.
- msgType: Alert while the incident is as opened (updated_at == created_at), else Cancel
  when its status is closed, else Update. Update and Cancel reference the node's first
  alert of the incident (`qroc-{id}-{created_at}`, sent = created_at): derived, so every
  export of an incident by one node forms one CAP chain.
- status Actual for real traffic only; an exercise is Exercise (Test / System for the
  markers "CAP test" / "CAP system" that an import of those gave), with its name in
  `note` as "QROC exercise: <name>". scope Restricted (police OCs only, `restriction`).
- One `info`: category, event, urgency (from our status), severity, certainty Observed,
  headline = title, description, senderName = the author's OC; parameters `qroc:incident`,
  `qroc:category`, `qroc:status`, `qroc:tag` (one each) make QROC -> CAP -> QROC exact;
  a resource per media item by reference (uri `{media_base}/{id}`; no digest: CAP's is
  SHA-1, ours SHA-256); an area for a location: areaDesc = place (the coordinates when
  the place is empty) and circle "lat,lon 0" with 7 decimals.
Import rules:
- `xml.parse` first (hostile XML refused); then the required elements in schema order
  and their enumerations: the first missing or wrong one raises XmlRefused("invalid",
  "alert/info[1]/severity: ..."). Ack, Error and Draft are XmlRefused("unsupported").
- origin (cap, sender, identifier); action from msgType; refers_to from `references`.
- Exercise marker from status: Actual None; otherwise the note's "QROC exercise: X",
  else "CAP exercise" / "CAP test" / "CAP system".
- Text from the info whose language starts "en" (no language is en-US), else the first;
  severity the highest of all infos; location the centre of the first circle, else the
  mean of the first polygon's vertices; place its area's areaDesc. `qroc:*` parameters
  win. Every text is made to pass our text rules (bridges/text.py: controls dropped, line
  breaks in line text made spaces, NEL counted as a line break, cut to the limits); text
  from other systems is also tidied ("fold": whitespace collapsed, ends trimmed), our own
  exports (a `qroc:incident` parameter) are read exactly ("exact").
"""

import re
from dataclasses import replace
from datetime import UTC, datetime

from lxml import etree

from protocol import limits

from .model import STATUSES, Context, Imported, Incident, Location, Origin
from .text import EXERCISE_PREFIX, Tidy, check_identifier, free_text, line_text, refused
from .xml import XmlRefused, parse

NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/cap+xml"
RESTRICTION = "QROC Mesh: for EU police Operational Centres only; not for public release"
# The markers imports give to non-exercise, non-real traffic, and the status they go back to.
MARKER_STATUS = {"CAP test": "Test", "CAP system": "System", "EDXL-DE test": "Test", "EDXL-DE system": "System"}

CATEGORY = {"cbrne": "CBRNE", "manhunt": "Security", "crowd": "Safety", "terrorism": "Security", "other": "Other"}
EVENT = {
    "cbrne": "CBRNE incident",
    "manhunt": "Manhunt",
    "crowd": "Crowd incident",
    "terrorism": "Terrorist incident",
    "other": "Police incident",
}
SEVERITY = {"low": "Minor", "medium": "Moderate", "high": "Severe", "critical": "Extreme"}
SEVERITY_BACK = {cap: ours for ours, cap in SEVERITY.items()}
URGENCY = {"open": "Immediate", "monitoring": "Expected", "resolved": "Past", "closed": "Past"}
# A foreign alert's category: CAP's CBRNE, else the first of these found in its event or
# headline (English words: the English info is the one read), else other.
KEYWORDS = (
    ("terrorism", re.compile(r"terror", re.IGNORECASE)),
    ("cbrne", re.compile(r"cbrn|chemical|biolog|radiolog|nuclear|hazmat|explosive|bomb", re.IGNORECASE)),
    ("manhunt", re.compile(r"manhunt|fugitive|abduct|amber alert|wanted|suspect|suspicious person", re.IGNORECASE)),
    ("crowd", re.compile(r"crowd|riot|demonstrat|protest|stampede|civil (dis)?order|unrest", re.IGNORECASE)),
)
ENUMS = {
    "status": ("Actual", "Exercise", "System", "Test", "Draft"),
    "msgType": ("Alert", "Update", "Cancel", "Ack", "Error"),
    "scope": ("Public", "Restricted", "Private"),
    "category": (
        *("Geo", "Met", "Safety", "Security", "Rescue", "Fire"),
        *("Health", "Env", "Transport", "Infra", "CBRNE", "Other"),
    ),
    "responseType": ("Shelter", "Evacuate", "Prepare", "Execute", "Avoid", "Monitor", "Assess", "AllClear", "None"),
    "urgency": ("Immediate", "Expected", "Future", "Past", "Unknown"),
    "severity": ("Extreme", "Severe", "Moderate", "Minor", "Unknown"),
    "certainty": ("Observed", "Likely", "Possible", "Unlikely", "Unknown"),
}
TIME = re.compile(r"\d\d\d\d-\d\d-\d\dT\d\d:\d\d:\d\d[-,+]\d\d:\d\d")
_NUMBER = r"[-+]?\d+(?:\.\d*)?"
_PAIR = re.compile(rf"({_NUMBER})\s*,\s*({_NUMBER})")
_CIRCLE = re.compile(rf"\s*{_PAIR.pattern}\s+{_NUMBER}\s*")


# --- values shared with edxl.py ---


def moment(rfc3339: str) -> datetime:
    return datetime.fromisoformat(rfc3339).astimezone(UTC)


def cap_time(at: datetime) -> str:
    """CAP's and EDXL's date-time: seconds, an explicit offset, no Z."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def identifier(incident: Incident, at: str) -> str:
    t = moment(at)
    return f"qroc-{incident['id']}-{t:%Y%m%dT%H%M%S}{t.microsecond // 1000:03d}Z"


def sender(ctx: Context) -> str:
    return f"qroc:{ctx.peer_id}"


def message_type(incident: Incident) -> str:
    if incident["updated_at"] == incident["created_at"]:
        return "Alert"
    return "Cancel" if incident["status"] == "closed" else "Update"


def status_of(exercise: str | None) -> str:
    """CAP alert/status and EDXL distributionStatus: Actual only for real traffic."""
    return "Actual" if exercise is None else MARKER_STATUS.get(exercise, "Exercise")


# --- export ---


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{NS}}}{name}")
    element.text = text
    return element


def _parameter(info: etree._Element, name: str, value: str) -> None:
    parameter = _sub(info, "parameter")
    _sub(parameter, "valueName", f"qroc:{name}")
    _sub(parameter, "value", value)


def to_element(incident: Incident, ctx: Context) -> etree._Element:
    alert = etree.Element(f"{{{NS}}}alert", nsmap={None: NS})
    kind = message_type(incident)
    head = [
        ("identifier", identifier(incident, incident["updated_at"])),
        ("sender", sender(ctx)),
        ("sent", cap_time(moment(incident["updated_at"]))),
        ("status", status_of(incident["exercise"])),
        ("msgType", kind),
        ("scope", "Restricted"),
        ("restriction", RESTRICTION),
    ]
    if incident["exercise"] is not None:
        head.append(("note", EXERCISE_PREFIX + incident["exercise"]))
    if kind != "Alert":
        first = identifier(incident, incident["created_at"])
        head.append(("references", f"{sender(ctx)},{first},{cap_time(moment(incident['created_at']))}"))
    for name, text in [*head, ("incidents", incident["id"])]:
        _sub(alert, name, text)
    info = _sub(alert, "info")
    _sub(info, "category", CATEGORY[incident["category"]])
    _sub(info, "event", EVENT[incident["category"]])
    if incident["status"] in ("resolved", "closed"):
        _sub(info, "responseType", "AllClear")
    _sub(info, "urgency", URGENCY[incident["status"]])
    _sub(info, "severity", SEVERITY[incident["severity"]])
    _sub(info, "certainty", "Observed")
    _sub(info, "senderName", incident["author"]["name"] or ctx.node_name)
    _sub(info, "headline", incident["title"])
    if incident["description"]:
        _sub(info, "description", incident["description"])
    for name, value in [("incident", incident["id"]), ("category", incident["category"])]:
        _parameter(info, name, value)
    _parameter(info, "status", incident["status"])
    for tag in incident["tags"]:
        _parameter(info, "tag", tag)
    if incident["origin"] is not None:
        for key in ("format", "sender", "identifier"):
            _parameter(info, f"origin-{key}", incident["origin"][key])  # type: ignore[literal-required]
    for item in incident["media"]:
        resource = _sub(info, "resource")
        _sub(resource, "resourceDesc", item["name"])
        _sub(resource, "mimeType", item["mime"])
        _sub(resource, "size", str(item["size"]))
        _sub(resource, "uri", f"{ctx.media_base}/{item['id']}")
    location = incident["location"]
    if location is not None:
        area = _sub(info, "area")
        point = f"{location['lat']:.7f},{location['lon']:.7f}"
        _sub(area, "areaDesc", location["place"] or point)
        _sub(area, "circle", f"{point} 0")
    return alert


def export(incident: Incident, ctx: Context) -> bytes:
    return etree.tostring(to_element(incident, ctx), xml_declaration=True, encoding="UTF-8")


def atom_feed(incidents: list[Incident], ctx: Context, feed_url: str, alert_url: str | None = None) -> bytes:
    """An Atom 1.0 feed (RFC 4287) of the newest `cap_feed_items_max` incidents: each entry
    links to its CAP alert (`alert_url` with "{id}", else beside the feed: feed_url's last
    path segment replaced by the incident id) and
    embeds it as content of type application/cap+xml, as alert hubs read."""
    newest = sorted(incidents, key=lambda i: moment(i["updated_at"]), reverse=True)[: limits.cap_feed_items_max]
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})

    def add(parent: etree._Element, name: str, text: str | None = None, **attributes: str) -> etree._Element:
        element = etree.SubElement(parent, f"{{{ATOM}}}{name}", attributes)
        element.text = text
        return element

    add(feed, "id", feed_url)
    add(feed, "title", f"QROC Mesh incidents: {ctx.node_name}")
    updated = newest[0]["updated_at"] if newest else datetime.fromtimestamp(ctx.now_ms / 1000, UTC).isoformat()
    add(feed, "updated", updated)
    add(add(feed, "author"), "name", ctx.node_name)
    add(feed, "link", rel="self", type="application/atom+xml", href=feed_url)
    for incident in newest:
        url = alert_url.format(id=incident["id"]) if alert_url else f"{feed_url.rsplit('/', 1)[0]}/{incident['id']}"
        entry = add(feed, "entry")
        add(entry, "id", f"{url}#{identifier(incident, incident['updated_at'])}")
        add(entry, "title", incident["title"])
        add(entry, "updated", incident["updated_at"])
        add(entry, "published", incident["created_at"])
        add(add(entry, "author"), "name", incident["author"]["name"] or ctx.node_name)
        add(entry, "link", rel="alternate", type=MEDIA_TYPE, href=url)
        add(entry, "category", term=CATEGORY[incident["category"]])
        add(entry, "content", type=MEDIA_TYPE).append(to_element(incident, ctx))
    return etree.tostring(feed, xml_declaration=True, encoding="UTF-8")


# --- import ---


def _children(parent: etree._Element, name: str) -> list[etree._Element]:
    return parent.findall(f"{{{NS}}}{name}")


def _text(element: etree._Element) -> str:
    return "".join(element.itertext())


def _required(parent: etree._Element, name: str, path: str) -> str:
    found = parent.find(f"{{{NS}}}{name}")
    if found is None:
        raise refused(f"{path}/{name}", "missing")
    text = _text(found).strip()
    if name in ENUMS:
        _check_enum(text, name, f"{path}/{name}")
    elif not text:
        raise refused(f"{path}/{name}", "empty")
    return text


def _check_enum(text: str, name: str, path: str) -> None:
    if text not in ENUMS[name]:
        raise refused(path, f"{text!r} is not one of {', '.join(ENUMS[name])}")


def _coordinates(text: str, path: str, circle: bool) -> list[tuple[float, float]]:
    pairs = [_PAIR.fullmatch(token) for token in re.sub(r"\s*,\s*", ",", text).split()[: None if not circle else 1]]
    if (circle and not _CIRCLE.fullmatch(text)) or not pairs or None in pairs:
        raise refused(path, f"{text.strip()[:60]!r} is not {'lat,lon radius' if circle else 'lat,lon pairs'}")
    points = [(float(m.group(1)), float(m.group(2))) for m in pairs if m is not None]
    if any(not (-90 <= lat <= 90 and -180 <= lon <= 180) for lat, lon in points):
        raise refused(path, "a coordinate is outside -90..90 latitude / -180..180 longitude")
    return points


def _check(alert: etree._Element) -> tuple[dict[str, str], tuple[Origin, ...]]:
    """The required elements, enumerations and references in schema order; the first
    wrong one raises. Returns the header's values and the references."""
    head = {name: _required(alert, name, "alert") for name in ("identifier", "sender", "sent")}
    if not TIME.fullmatch(head["sent"]):
        raise refused("alert/sent", f"{head['sent']!r} is not a date-time like 2024-05-01T10:00:00+00:00")
    head |= {name: _required(alert, name, "alert") for name in ("status", "msgType", "scope")}
    references = _references(alert)
    for i, info in enumerate(_children(alert, "info"), 1):
        path = f"alert/info[{i}]"
        _required(info, "category", path)
        for j, category in enumerate(_children(info, "category"), 1):
            _check_enum(_text(category).strip(), "category", f"{path}/category[{j}]")
        _required(info, "event", path)
        for j, response in enumerate(_children(info, "responseType"), 1):
            _check_enum(_text(response).strip(), "responseType", f"{path}/responseType[{j}]")
        for name in ("urgency", "severity", "certainty"):
            _required(info, name, path)
        for j, area in enumerate(_children(info, "area"), 1):
            if area.find(f"{{{NS}}}areaDesc") is None:
                raise refused(f"{path}/area[{j}]/areaDesc", "missing")
            for shape in ("polygon", "circle"):
                for k, element in enumerate(_children(area, shape), 1):
                    _coordinates(_text(element), f"{path}/area[{j}]/{shape}[{k}]", shape == "circle")
    return head, references


def _references(alert: etree._Element) -> tuple[Origin, ...]:
    found = alert.find(f"{{{NS}}}references")
    out = []
    for token in (_text(found) if found is not None else "").split():
        parts = token.split(",")
        if len(parts) != 3 or not parts[0] or not parts[1]:
            raise refused("alert/references", f"{token[:80]!r} is not sender,identifier,sent")
        sender, identifier = (check_identifier("alert/references", part) for part in parts[:2])
        out.append(Origin("cap", sender, identifier))
    return tuple(out)


def _exercise(status: str, alert: etree._Element) -> str | None:
    if status == "Actual":
        return None
    note = alert.find(f"{{{NS}}}note")
    for line in (_text(note) if note is not None else "").splitlines():
        if line.lstrip().startswith(EXERCISE_PREFIX):
            name = line_text(line.lstrip()[len(EXERCISE_PREFIX) :], limits.exercise_chars_max, "exact", nel_breaks=True)
            if name:
                return name
    return f"CAP {status.lower()}"


def _parameters(info: etree._Element) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for parameter in _children(info, "parameter"):
        name, value = parameter.find(f"{{{NS}}}valueName"), parameter.find(f"{{{NS}}}value")
        if name is not None and value is not None and _text(name).strip().startswith("qroc:"):
            out.setdefault(_text(name).strip()[5:], []).append(_text(value))
    return out


def _location(info: etree._Element, tidy: Tidy) -> tuple[Location | None, list[str]]:
    """The first circle's centre, else the first polygon's vertex mean; all areaDescs."""
    areas = _children(info, "area")
    names = [_text(a.find(f"{{{NS}}}areaDesc")) for a in areas]  # type: ignore[arg-type]
    for shape in ("circle", "polygon"):
        for area, name in zip(areas, names, strict=True):
            for element in _children(area, shape):
                points = _coordinates(_text(element), "", shape == "circle")
                if len(points) > 1 and points[0] == points[-1]:
                    points = points[:-1]
                lat = round(sum(p[0] for p in points) / len(points), 7)
                lon = round(sum(p[1] for p in points) / len(points), 7)
                place = line_text(name, limits.place_chars_max, tidy, nel_breaks=True)
                said = _PAIR.fullmatch(place.strip())
                if not place or (said and (round(float(said[1]), 7), round(float(said[2]), 7)) == (lat, lon)):
                    place = ""  # no name, or only the coordinates again (our export of no place)
                return Location(lat=lat, lon=lon, place=place), names
    return None, names


def _chosen(infos: list[etree._Element]) -> etree._Element:
    for info in infos:
        language = info.find(f"{{{NS}}}language")
        if (_text(language).strip() if language is not None else "en-US").lower().startswith("en"):
            return info
    return infos[0]


def from_element(root: etree._Element) -> list[Imported]:
    head, references = _check(root)
    if head["status"] == "Draft" or head["msgType"] in ("Ack", "Error"):
        what = "a Draft" if head["status"] == "Draft" else f"an {head['msgType']} message"
        raise XmlRefused("unsupported", f"alert: {what} says nothing about an incident; not imported")
    origin = Origin(
        "cap",
        check_identifier("alert/sender", head["sender"]),
        check_identifier("alert/identifier", head["identifier"]),
    )
    action = {"Alert": "alert", "Update": "update", "Cancel": "cancel"}[head["msgType"]]
    imported = Imported(origin, action, _exercise(head["status"], root), refers_to=references)  # type: ignore[arg-type]
    infos = _children(root, "info")
    if not infos:
        if action == "alert":
            title = line_text(f"CAP alert {origin.identifier}", limits.title_chars_max, "exact")
            return [replace(imported, title=title, category="other", severity="medium")]
        return [replace(imported, status="closed" if action == "cancel" else None)]
    info = _chosen(infos)
    params = _parameters(info)
    tidy: Tidy = "exact" if "incident" in params else "fold"  # our own export, else another system's

    def text(name: str) -> str:
        found = info.find(f"{{{NS}}}{name}")
        return "" if found is None else _text(found)

    title = line_text(text("headline"), limits.title_chars_max, tidy, nel_breaks=True)
    if not title:
        title = line_text(text("event"), limits.title_chars_max, tidy, nel_breaks=True)
    if not title:
        title = line_text(f"CAP {head['msgType'].lower()} {origin.identifier}", limits.title_chars_max, "exact")
    ranked = [SEVERITY_BACK.get(_text(s).strip()) for i in infos for s in _children(i, "severity")]
    known = [s for s in ranked if s is not None]
    severity = max(known, key=list(SEVERITY).index) if known else ("medium" if action == "alert" else None)
    categories = {_text(c).strip() for c in _children(info, "category")}
    category = params.get("category", [""])[0]
    if category not in CATEGORY:
        words = f"{text('event')} {text('headline')}"
        found = [name for name, pattern in KEYWORDS if pattern.search(words)]
        category = "cbrne" if "CBRNE" in categories else (found or ["other"])[0]
    status = params.get("status", [""])[0]
    if status not in STATUSES:
        responses = {_text(r).strip() for r in _children(info, "responseType")}
        status = "closed" if action == "cancel" else ("resolved" if "AllClear" in responses else None)
    description = "\n\n".join(t for t in (text("description"), text("instruction")) if t.strip())
    location, areas = _location(info, tidy)
    if location is None and areas and tidy == "fold":
        description += "\n\nArea: " + "; ".join(" ".join(a.split()) for a in areas)
    tags = dict.fromkeys(line_text(t, limits.tag_chars_max, tidy, nel_breaks=True) for t in params.get("tag", []))
    return [
        replace(
            imported,
            title=title,
            category=category,
            severity=severity,
            status=status,
            description=free_text(description, limits.text_chars_max, tidy, nel_breaks=True),
            location=location,
            tags=tuple(t for t in tags if t)[: limits.tags_max],
        )
    ]


def import_document(data: bytes) -> list[Imported]:
    return from_element(parse(data, f"{{{NS}}}alert", "CAP alert"))
