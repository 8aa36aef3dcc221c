"""EMSI: an incident as an EMSI message (CONTEXT, EVENT), and an EMSI message as an incident.

Profile: the SAMU-Hub "eda:1.9" national profile of EMSI (root
`{urn:emergency:eda:1.9:emsi}emsi`, UPPER-case names, `LONG`, `LINK_ROLE`), which is what
every public example uses; the ISO/TR 22351 schema is not public and the TSO 2.0 (NexSIS
2015) names differ (lower case, `lon`, `role`): a TSO 2.0 document is refused as a wrong
root. docs/standards.md has the mapping tables.

Export rules:
- CONTEXT/ID is a UUID derived from the incident id and `updated_at`: one id per state.
  MSGTYPE is ALERT for the first state (updated_at == created_at), CANCEL once closed, else
  UPDATE; UPDATE and CANCEL LINK to the first state's id with role SPRSDS (each message
  carries the whole state, so it supersedes the earlier ones). CREATION is `updated_at`,
  so the document is a function of the state (and the node's context), not of the clock.
- MODE is EXERCS for an exercise incident, its name in CONTEXT/FREETEXT as
  "QROC exercise: <name>"; else ACTUAL.
- EVENT/ID is the incident id; ETYPE, SCALE and STATUS come from the tables below;
  EVENT/FREETEXT is the description and, as its last line, our trailer
  `QROC incident: {json}` with the exact category, severity, status and tags (bridges/text.py).

Import rules:
- The document is checked first: the structure of CONTEXT and EVENT (order, cardinality,
  no unknown element) and the value of every element read (enumerations, dates, numbers,
  coordinates in range and WGS 84). MISSION, RESOURCE and code lists not read are not
  checked. A failure raises XmlRefused("invalid", "<path>: <problem>") naming the first one.
- The origin is ("emsi", CONTEXT/ORIGIN/ORG_ID or "unknown", EVENT/ID): EVENT/ID, not
  CONTEXT/ID, so every message about one event (ALERT, each UPDATE, CANCEL) maps to the
  same incident and a repeated message changes nothing.
- MSGTYPE ALERT/UPDATE/CANCEL give the action; ACK and ERROR carry no incident and are
  refused (reason "unsupported").
- Our trailer, when present, gives category, severity, status and tags exactly, and the
  description is the text before it. Without it: category from ETYPE, severity from SCALE
  (else URGENCY), status from EVENT/STATUS, description EVENT/FREETEXT then CONTEXT/FREETEXT.
  An ALERT says every field needed to open (defaults: category other, severity medium,
  title "EMSI event <code>"); an UPDATE leaves unsaid fields None.
- Every text is made safe for our text rules (bridges/text.py, "trim": control characters,
  NEL included, dropped, line breaks in one-line fields become spaces, ends stripped, cut
  to the limits); identifiers are not altered: one that breaks the origin rule refuses
  the document.
"""

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from lxml import etree

from protocol import limits

from .model import Action, Category, Context, Imported, Incident, Location, Origin, Severity, Status
from .text import (
    EXERCISE_PREFIX,
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
from .xml import XmlRefused, parse

NS = "urn:emergency:eda:1.9:emsi"
ROOT = f"{{{NS}}}emsi"

# Our category -> ETYPE (CATEGORY codes, ACTOR, ENV or None); LOCTYPE is always OTH (unknown).
ETYPES: dict[str, tuple[tuple[str, ...], str, str | None]] = {
    "cbrne": (("POL",), "PPL", "DIS/CBRN"),  # pollution (bio/chem/nuclear/radiological) + CBRN incident
    "manhunt": (("PSW/PRSUIT",), "PPL", None),  # pursuit of a person or vehicle
    "crowd": (("PSW/MEV",), "PPL/GRP", None),  # major event, group of people
    "terrorism": (("PSW",), "PPL", "TER"),  # public safety, environment terrorism
    "other": (("PSW",), "PPL", None),
}
LOCTYPE = "OTH"
# Import of other systems' codes: ENV first, then each CATEGORY, then ACTOR (prefix match).
_ENV_CATEGORY: dict[str, Category] = {"TER": "terrorism", "DIS/CBRN": "cbrne", "DIS/RADCNT": "cbrne", "CDIS": "crowd"}
_CODE_CATEGORY: dict[str, Category] = {
    **{"POL": "cbrne", "EXP/CHM": "cbrne", "EXP/NUK": "cbrne", "EXP/IMP": "terrorism", "PSW/PKG": "terrorism"},
    **{"PSW/PRSUIT": "manhunt", "PSW/MIS": "manhunt", "PPL/PRS/ESC": "manhunt"},
    **{"PSW/DEM": "crowd", "PSW/PRO": "crowd", "PSW/RIOT": "crowd", "PSW/MEV": "crowd"},
}
SCALES = {"low": "1", "medium": "2", "high": "3", "critical": "4"}
_SCALE_SEVERITY: dict[str, Severity] = {"1": "low", "2": "medium", "3": "high", "4": "critical", "5": "critical"}
EVENT_STATUSES = {"open": "IPR", "monitoring": "STOP", "resolved": "COM", "closed": "COM"}
_EVENT_STATUS: dict[str, Status] = {"NST": "open", "IPR": "open", "STOP": "monitoring", "COM": "resolved"}
_MODE_EXERCISE = {"EXERCS": "EMSI exercise", "TEST": "EMSI test", "SYSTEM": "EMSI system"}
_WGS84 = {"EPSG-4326", "EPSG:4326", "WGS84", "WGS-84", "WGS 84"}
_MESSAGE_IDS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:qroc-mesh:emsi:context-id")


# --- export ---


def message_id(incident_id: str, at: str) -> str:
    """CONTEXT/ID of the message describing the incident's state at `at`."""
    return str(uuid.uuid5(_MESSAGE_IDS, f"{incident_id}@{at}"))


def org_id(ctx: Context) -> str:
    """CONTEXT/ORIGIN/ORG_ID, as the profile spells one: {country}.{domain}.{organisation}."""
    return f"{ctx.country.lower()}.police.{ctx.peer_id}"


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{NS}}}{name}")
    element.text = text
    return element


def to_element(incident: Incident, ctx: Context) -> etree._Element:
    """The incident as an `emsi` element (for export, or inside an EDXL-DE envelope)."""
    root = etree.Element(ROOT, nsmap={None: NS})
    first = incident["created_at"] == incident["updated_at"]
    msgtype = "CANCEL" if incident["status"] == "closed" else "ALERT" if first else "UPDATE"
    context = _sub(root, "CONTEXT")
    _sub(context, "ID", message_id(incident["id"], incident["updated_at"]))
    _sub(context, "MODE", "ACTUAL" if incident["exercise"] is None else "EXERCS")
    _sub(context, "MSGTYPE", msgtype)
    _sub(context, "CREATION", incident["updated_at"])
    if not first:
        link = _sub(context, "LINK")
        _sub(link, "ID", message_id(incident["id"], incident["created_at"]))
        _sub(link, "LINK_ROLE", "SPRSDS")
    if incident["exercise"] is not None:
        _sub(context, "FREETEXT", EXERCISE_PREFIX + incident["exercise"])
    origin = _sub(context, "ORIGIN")
    _sub(origin, "ORG_ID", org_id(ctx))
    _sub(origin, "NAME", ctx.node_name)
    for item in incident["media"]:
        info = _sub(context, "EXTERNAL_INFO")
        _sub(info, "FREETEXT", item["name"])
        _sub(info, "URI", f"{ctx.media_base}/{item['id']}")
        _sub(info, "TYPE", "PHOTO" if item["mime"].startswith("image/") else "OTHER")
    _sub(context, "URGENCY", "URGENT" if incident["severity"] in ("high", "critical") else "NOT_URGENT")

    event = _sub(root, "EVENT")
    _sub(event, "ID", incident["id"])
    _sub(event, "NAME", incident["title"])
    codes, actor, env = ETYPES[incident["category"]]
    etype = _sub(event, "ETYPE")
    for code in codes:
        _sub(etype, "CATEGORY", code)
    _sub(etype, "ACTOR", actor)
    _sub(etype, "LOCTYPE", LOCTYPE)
    if env is not None:
        _sub(etype, "ENV", env)
    _sub(event, "SCALE", SCALES[incident["severity"]])
    _sub(event, "DECL_DATIME", incident["created_at"])
    _sub(event, "OBS_DATIME", incident["updated_at"])
    _sub(event, "STATUS", EVENT_STATUSES[incident["status"]])
    location = incident["location"]
    if location is not None:
        position = _sub(_sub(event, "EGEO"), "POSITION")
        if location["place"]:
            _sub(position, "NAME", location["place"])
        _sub(position, "TYPE", "POINT")
        _sub(position, "COORDSYS", "EPSG-4326")
        coord = _sub(position, "COORD")
        _sub(coord, "LAT", degrees(location["lat"]))
        _sub(coord, "LONG", degrees(location["lon"]))
    ours = Trailer(incident["category"], incident["severity"], incident["status"], tuple(sorted(incident["tags"])))
    _sub(event, "FREETEXT", with_trailer(incident["description"], ours))
    return root


def export(incident: Incident, ctx: Context) -> bytes:
    """The EMSI document: UTF-8 with an XML declaration, valid against the profile's EMSI.xsd."""
    return etree.tostring(to_element(incident, ctx), xml_declaration=True, encoding="UTF-8")


# --- the import check: a small schema of what is read ---

Check = Callable[[str, str], object]


@dataclass(frozen=True, slots=True)
class _El:
    name: str
    min: int = 0
    max: int = 1
    value: Check | None = None  # simple content: checks (path, text)
    children: tuple["_El", ...] | None = None  # complex content; neither: not checked


def _any(path: str, value: str) -> None:
    return None


def _enum(*allowed: str) -> Check:
    def check(path: str, value: str) -> None:
        if value.strip() not in allowed:
            raise refused(path, f"{value!r} is not one of {', '.join(allowed)}")

    return check


def _int(path: str, value: str) -> None:
    if not re.fullmatch(r"[+-]?\d+", value.strip()):
        raise refused(path, f"{value!r} is not an integer")


_MARKS = {"": (1, 1), "?": (0, 1), "*": (0, 1 << 30), "+": (1, 1 << 30)}


def _seq(*items: tuple[str, Check | tuple[_El, ...] | None]) -> tuple[_El, ...]:
    """A sequence from ("NAME" + "", "?", "*" or "+", a value check, children or None: unchecked)."""
    rules = []
    for token, content in items:
        name = token.rstrip("?*+")
        low, high = _MARKS[token[len(name) :]]
        nested = isinstance(content, tuple)
        rules.append(_El(name, low, high, None if nested else content, content if nested else None))  # type: ignore[arg-type]
    return tuple(rules)


_T = _any
_COORD = _seq(
    ("LAT", lambda p, v: check_decimal(p, v, -90, 90)),
    ("LONG", lambda p, v: check_decimal(p, v, -180, 180)),
    ("HEIGHT?", check_decimal),
)
_POSITION = _seq(*((f"{n}?", _T) for n in ("LOC_ID", "NAME", "TYPE", "HEIGHT_ROLE", "COORDSYS")))
_POSITION += _seq(("COORD*", _COORD), ("ADDRESS*", _T))
_CONTEXT = _seq(
    ("ID", _T),
    ("MODE", _enum("ACTUAL", "EXERCS", "SYSTEM", "TEST")),
    ("MSGTYPE", _enum("ACK", "ALERT", "CANCEL", "ERROR", "UPDATE")),
    ("CREATION?", check_datetime),
    ("LINK*", _seq(("ID", _T), ("LINK_ROLE?", _enum("ADDSTO", "SPRSDS")))),
    *(("LEVEL?", _T), ("SECLASS?", _T), ("FREETEXT?", _T)),
    ("ORIGIN?", _seq(("ORG_ID?", _T), ("USER_ID?", _T), ("NAME?", _T))),
    ("EXTERNAL_INFO*", _seq(("FREETEXT?", _T), ("URI", _T), ("TYPE?", _T))),
    ("URGENCY?", _enum("URGENT", "NOT_URGENT")),
)
_EGEO = _seq(
    *(("DATIME?", check_datetime), ("TYPE?", _T), ("WEATHER*", _T), ("FREETEXT?", _T)),
    ("POSITION?", _POSITION),
)
_EVENT = _seq(
    *(("ID", _T), ("NAME?", _T), ("MAIN_EVENT_ID?", _T)),
    ("ETYPE?", _seq(("CATEGORY+", _T), ("ACTOR+", _T), ("LOCTYPE+", _T), ("ENV?", _T))),
    *(("SOURCE?", _T), ("SCALE?", _enum("1", "2", "3", "4", "5")), ("CERTAINTY?", _int)),
    *((f"{n}?", check_datetime) for n in ("DECL_DATIME", "OCC_DATIME", "OBS_DATIME")),
    *(("STATUS?", _enum("COM", "IPR", "NST", "STOP")), ("RISK_ASSESMENT?", _T)),
    *(("REFERENCE*", None), ("CASUALTIES*", None), ("EVAC*", None)),
    *(("EGEO*", _EGEO), ("CAUSE?", _T), ("FREETEXT?", _T)),
)
_EMSI = _seq(("CONTEXT", _CONTEXT), ("EVENT", _EVENT), ("MISSION*", None), ("RESOURCE*", None))


def _local(tag: str) -> str:
    return tag[len(NS) + 2 :] if tag.startswith(f"{{{NS}}}") else tag


def _check(element: etree._Element, path: str, spec: tuple[_El, ...]) -> None:
    """Walk the children against `spec` (a sequence); raise naming the first problem."""
    children = [c for c in element if isinstance(c.tag, str)]
    names = {f"{{{NS}}}{rule.name}" for rule in spec}
    seen: set[str] = set()
    i = 0
    for rule in spec:
        tag, count = f"{{{NS}}}{rule.name}", 0
        while i < len(children) and children[i].tag == tag and count < rule.max:
            count += 1
            child_path = f"{path}/{rule.name}" + (f"[{count}]" if count > 1 else "")
            if rule.children is not None:
                _check(children[i], child_path, rule.children)
            elif rule.value is not None:
                if len(children[i]):
                    raise refused(child_path, "holds elements; text expected")
                rule.value(child_path, children[i].text or "")
            i += 1
        seen.add(tag)
        if count < rule.min:
            if i < len(children) and children[i].tag not in names - seen:
                break  # an unknown, repeated or misplaced element is the first problem
            later = any(c.tag == tag for c in children[i:])
            raise refused(f"{path}/{rule.name}", f"must come before {_local(children[i].tag)}" if later else "missing")
    if i < len(children):
        child = children[i].tag
        what = "repeated or out of order" if child in names else f"not an element of {path.rpartition('/')[2]}"
        raise refused(f"{path}/{_local(child)}", what)


# --- import ---


def _q(path: str) -> str:
    return "/".join(f"{{{NS}}}{name}" for name in path.split("/"))


def _text(element: etree._Element, path: str) -> str | None:
    found = element.find(_q(path))
    return None if found is None else found.text or ""


def _category(event: etree._Element) -> Category | None:
    if event.find(_q("ETYPE")) is None:
        return None
    env = (_text(event, "ETYPE/ENV") or "").strip()
    codes = [(c.text or "").strip() for c in event.iterfind(_q("ETYPE/CATEGORY"))]
    codes += [(a.text or "").strip() for a in event.iterfind(_q("ETYPE/ACTOR"))]
    for code, table in [(env, _ENV_CATEGORY)] + [(c, _CODE_CATEGORY) for c in codes]:
        for prefix, ours in table.items():
            if code == prefix or code.startswith(prefix + "/"):
                return ours
    return "other"


def _location(event: etree._Element) -> Location | None:
    for index, egeo in enumerate(event.iterfind(_q("EGEO")), 1):
        position = egeo.find(_q("POSITION"))
        coord = None if position is None else position.find(_q("COORD"))
        if position is None or coord is None:
            continue
        system = (_text(position, "COORDSYS") or "EPSG-4326").strip()
        if system.upper() not in _WGS84:
            path = "emsi/EVENT/EGEO" + (f"[{index}]" if index > 1 else "") + "/POSITION/COORDSYS"
            raise refused(path, f"{system!r} is not WGS 84 (EPSG-4326)")
        place = _text(position, "NAME") or _text(position, "ADDRESS")
        return Location(
            lat=round(float(Decimal((_text(coord, "LAT") or "").strip())), 7),
            lon=round(float(Decimal((_text(coord, "LONG") or "").strip())), 7),
            place=line_text(place, limits.place_chars_max),
        )
    return None


def _exercise(mode: str, context_text: str) -> str | None:
    if mode == "EXERCS":
        for line in context_text.split("\n"):
            if line.startswith(EXERCISE_PREFIX):
                return line_text(line[len(EXERCISE_PREFIX) :], limits.exercise_chars_max) or _MODE_EXERCISE[mode]
    return _MODE_EXERCISE.get(mode)


def _severity(event: etree._Element, context: etree._Element) -> Severity | None:
    scale, urgency = (_text(event, "SCALE") or "").strip(), (_text(context, "URGENCY") or "").strip()
    return _SCALE_SEVERITY.get(scale) or {"URGENT": "high", "NOT_URGENT": "low"}.get(urgency)  # type: ignore[return-value]


def from_element(root: etree._Element) -> Imported:
    """An `emsi` element (a document's root, or an EDXL-DE payload) as one Imported."""
    if root.tag != ROOT:
        raise XmlRefused("wrong_root", f"emsi: root element is {root.tag}, not {ROOT}")
    _check(root, "emsi", _EMSI)
    context, event = root.find(_q("CONTEXT")), root.find(_q("EVENT"))
    assert context is not None and event is not None, "checked above"
    msgtype = (_text(context, "MSGTYPE") or "").strip()
    actions: dict[str, Action] = {"ALERT": "alert", "UPDATE": "update", "CANCEL": "cancel"}
    if msgtype not in actions:
        raise XmlRefused(
            "unsupported", f"emsi/CONTEXT/MSGTYPE: {msgtype} answers a message and carries no incident to import"
        )
    action = actions[msgtype]
    alert = action == "alert"
    sender = line_text(_text(context, "ORIGIN/ORG_ID"), limits.origin_chars_max) or "unknown"
    identifier = check_identifier("emsi/EVENT/ID", (_text(event, "ID") or "").strip())
    context_text = _text(context, "FREETEXT") or ""
    event_text = _text(event, "FREETEXT")
    found = None if event_text is None else read_trailer(free_text(event_text, 2 * limits.text_chars_max))
    ours = Trailer() if found is None else found[1]
    if found is not None:
        description: str | None = free_text(found[0])
    else:
        remarks = "\n".join(line for line in context_text.split("\n") if not line.startswith(EXERCISE_PREFIX))
        parts = [p.strip() for p in (event_text or "", remarks) if p.strip()]
        description = free_text("\n\n".join(parts)) if parts or alert else None
    status = ours.status or _EVENT_STATUS.get((_text(event, "STATUS") or "").strip())
    if status == "resolved" and action == "cancel":
        status = "closed"
    code = next((c.text.strip() for c in event.iterfind(_q("ETYPE/CATEGORY")) if c.text and c.text.strip()), None)
    label = f"EMSI event {code}" if code else "EMSI event"
    return Imported(
        origin=Origin("emsi", sender, identifier),
        action=action,
        exercise=_exercise((_text(context, "MODE") or "").strip(), context_text),
        title=line_text(_text(event, "NAME"), limits.title_chars_max) or (label if alert else None),
        category=ours.category or _category(event) or ("other" if alert else None),
        severity=ours.severity or _severity(event, context) or ("medium" if alert else None),
        status=status,
        description=description,
        location=_location(event),
        tags=ours.tags,
    )


def import_document(data: bytes) -> list[Imported]:
    """An EMSI document (bytes) as the one incident it describes; XmlRefused if refused."""
    return [from_element(parse(data, ROOT, "emsi"))]
