"""Incident routes of the HTTP API: create, list, read, update, comment, live events."""

import json
import re
from datetime import datetime
from typing import Any, Literal

import trio
from fastapi import APIRouter, Header, Query, Request, Response
from sse_starlette.sse import EventSourceResponse

from protocol import limits
from protocol.body import (
    Ack,
    AckLevel,
    Category,
    Comment,
    Kind,
    Location,
    Open,
    Registers,
    Severity,
    Status,
    Update,
)
from protocol.entry import decode
from protocol.hlc import pack

from ..views import ack_json, author, comment_json, timeline_json
from .errors import ApiError, error_response
from .models import (
    AckCreate,
    AckOut,
    CategoryName,
    CommentCreate,
    CommentOut,
    ExerciseList,
    Incident,
    IncidentCreate,
    IncidentList,
    IncidentPatch,
    Recipients,
    StatusName,
    Timeline,
)
from .models import Location as LocationIn
from .standards import MEDIA_TYPES, exported, format_for
from .writes import hex_id, incident_state, node_of, operator_of, write, write_errors

router = APIRouter(tags=["incidents"])
_ID = re.compile(r"[0-9a-f]{64}")


def _location(value: LocationIn | None) -> Location | None:
    return None if value is None else Location(round(value.lat * 1e7), round(value.lon * 1e7), value.place)


def _registers(location: LocationIn | None, **values: Any) -> Registers:
    """The fields a PATCH sets, validated by the protocol's constructors (422 if invalid)."""
    with write_errors():
        return Registers(location=_location(location), **values)


@router.post("/v1/incidents", status_code=201, response_model=Incident)
async def create_incident(payload: IncidentCreate, request: Request) -> dict[str, Any]:
    node = node_of(request)

    def body() -> Open:
        registers = Registers(
            title=payload.title,
            category=Category[payload.category.name.upper()],
            severity=Severity[payload.severity.name.upper()],
            status=Status[payload.status.name.upper()],
            description=payload.description,
            location=_location(payload.location),
        )
        return Open(registers, tuple(payload.tags))

    if payload.restricted_to is None:
        entry = write(request, body, payload.exercise)
    else:
        readers = members_of(node, payload.restricted_to)
        with write_errors():
            entry = node.open_restricted(body(), readers, payload.exercise, operator_of(request))
    return node.incident_view(entry.id)  # type: ignore[no-any-return]


def members_of(node: Any, countries: list[str]) -> set[bytes]:
    """The public keys of the roster members of these countries (422 for a country without one)."""
    found = {c: {m.public_key for m in node.roster if m.country == c} for c in countries}
    missing = sorted(c for c, keys in found.items() if not keys)
    if missing:
        raise ApiError(422, "invalid_field", f"restricted_to: no member of {', '.join(missing)} on the roster")
    return set().union(*found.values())


@router.post("/v1/incidents/{incident_id}/recipients", response_model=Incident)
async def change_recipients(incident_id: str, payload: Recipients, request: Request) -> dict[str, Any]:
    """Add readers to a restricted incident (they read all of it), or remove some (the
    content key is rotated: they read nothing written afterwards)."""
    node = node_of(request)
    incident = hex_id(incident_id)
    state = incident_state(node, incident)
    if state.restricted_to is None:
        raise ApiError(422, "invalid_field", "the incident is not restricted: every member reads it")
    if not payload.add and not payload.remove:
        raise ApiError(422, "invalid_field", "give countries to add or to remove")
    added, removed = members_of(node, payload.add), members_of(node, payload.remove)
    with write_errors():
        node.change_recipients(incident, added - removed, removed, operator_of(request))
    return node.incident_view(incident)  # type: ignore[no-any-return]


def _since(value: str | None) -> int:
    if value is None:
        return 0
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(422, "invalid_field", "updated_since: not an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise ApiError(422, "invalid_field", "updated_since: give a time zone (e.g. Z)")
    return pack(max(0, int(moment.timestamp() * 1000)), 0)


def _cursor(value: str | None) -> tuple[int, bytes] | None:
    if value is None:
        return None
    hlc, _, incident = value.partition("-")
    if not hlc.isdigit() or not _ID.fullmatch(incident):
        raise ApiError(422, "invalid_field", "cursor: not a cursor from a previous page")
    return int(hlc), bytes.fromhex(incident)


@router.get("/v1/incidents", response_model=IncidentList)
async def list_incidents(
    request: Request,
    status: StatusName | None = None,
    category: CategoryName | None = None,
    exercise: str | None = Query(None, description="'true': exercises only; 'false': real traffic only; else a name"),
    updated_since: str | None = Query(None, description="RFC 3339; only incidents updated at or after it"),
    limit: int = Query(50, ge=1, le=limits.api_page_items_max),
    cursor: str | None = None,
    view: Literal["full", "summary"] = Query("full", description="'summary': comment counts instead of comments"),
) -> dict[str, Any]:
    flag: bool | str | None = {"true": True, "false": False}.get(exercise or "", exercise)
    store = node_of(request).views()
    rows = store.incidents(
        limit + 1,
        cursor=_cursor(cursor),
        status=None if status is None else status.value,
        category=None if category is None else category.value,
        exercise=flag,
        updated_since_hlc=_since(updated_since),
    )
    page = rows[:limit]
    views = [node_of(request).incident_view(incident, comments=view == "full") for _, incident in page]
    cursor_out = f"{page[-1][0]}-{page[-1][1].hex()}" if len(rows) > limit else None
    return {"incidents": [v for v in views if v is not None], "next_cursor": cursor_out}


@router.get(
    "/v1/incidents/{incident_id}",
    response_model=Incident,
    responses={200: {"content": {media: {} for media in MEDIA_TYPES.values()}}},
)
async def get_incident(incident_id: str, request: Request) -> Any:
    """The incident as JSON; with `Accept: application/cap+xml` (or edxl-de+xml, emsi+xml,
    cot+xml) as that standard's document, as /export/{format} gives it."""
    fmt = format_for(request.headers.get("accept", ""))
    if fmt is not None:
        return exported(node_of(request), hex_id(incident_id), fmt)
    view = node_of(request).incident_view(hex_id(incident_id))
    if view is None:
        raise ApiError(404, "not_found", f"no incident {incident_id}")
    return view  # type: ignore[no-any-return]


@router.get("/v1/incidents/{incident_id}/entries", response_model=Timeline)
async def incident_entries(incident_id: str, request: Request) -> dict[str, Any]:
    """Every entry about the incident, oldest first (the newest api_timeline_entries_max):
    who wrote it (OC and operator), when, what it changed, and which other members hold
    it as far as this node knows (their heads at our last sync with them, and gossip)."""
    node = node_of(request)
    incident = hex_id(incident_id)
    state = incident_state(node, incident)
    links = node.member_links()
    envelopes = node.store.incident_entries(incident, limits.api_timeline_entries_max + 1)
    decoded = (
        decode(envelope, node.roster, verify=False) for envelope in envelopes[-limits.api_timeline_entries_max :]
    )
    entries = [e for e in map(node.replica.readable, decoded) if e is not None]  # sealed ones opened
    me = node.identity.public_key
    acks = state.partials[state.opening.exercise].acks
    return {
        "entries": [
            timeline_json(e, node.roster, links, node.forwarded_by(e.id), acks.get(e.id, {}))
            for e in entries
            # what the fold takes in: the incident's own traffic (protocol/incident.py), no
            # forks, nothing addressed to others; acks are shown on what they acknowledge
            if e.exercise == state.opening.exercise
            and node.replica.log.is_canonical(e)
            and e.shown_to(me)
            and e.kind is not Kind.ACK
        ],
        "truncated": len(envelopes) > limits.api_timeline_entries_max,
    }


@router.get("/v1/exercises", response_model=ExerciseList)
async def exercises(request: Request) -> dict[str, Any]:
    """The exercises this node holds incidents of, by name."""
    return {"exercises": [{"name": n, "incidents": c} for n, c in node_of(request).views().exercises()]}


@router.patch("/v1/incidents/{incident_id}", response_model=Incident)
async def patch_incident(
    incident_id: str, payload: IncidentPatch, request: Request, response: Response
) -> dict[str, Any]:
    """Change fields; the new entry's id is in the X-Entry-Id header (absent if nothing changed)."""
    node = node_of(request)
    incident = hex_id(incident_id)
    state = incident_state(node, incident)
    given = payload.model_dump(exclude_unset=True)
    if not given or any(v is None for k, v in given.items() if k != "description"):
        raise ApiError(422, "invalid_field", "give at least one field to change, none of them null")
    registers = _registers(
        title=payload.title,
        category=None if payload.category is None else Category[payload.category.name.upper()],
        severity=None if payload.severity is None else Severity[payload.severity.name.upper()],
        status=None if payload.status is None else Status[payload.status.name.upper()],
        description=payload.description,
        location=payload.location,
    )
    live = state.live_tags()
    wanted = set(payload.tags) if payload.tags is not None else set(live)
    adds = tuple(sorted(wanted - set(live)))
    removes = tuple((tag, tuple(ids)) for tag, ids in live.items() if tag not in wanted)
    if registers.items() or adds or removes:
        entry = write(request, lambda: Update(incident, registers, adds, removes), state.opening.exercise)
        response.headers["X-Entry-Id"] = entry.id.hex()
    return node.incident_view(incident)  # type: ignore[no-any-return]


@router.post("/v1/incidents/{incident_id}/comments", status_code=201, response_model=CommentOut)
async def add_comment(incident_id: str, payload: CommentCreate, request: Request) -> dict[str, Any]:
    node = node_of(request)
    incident = hex_id(incident_id)
    state = incident_state(node, incident)
    entry = write(request, lambda: Comment(incident, payload.text), state.opening.exercise)
    return comment_json(node.replica.readable(entry), node.roster)  # a sealed one, as written


@router.post("/v1/incidents/{incident_id}/acks", status_code=201, response_model=AckOut)
async def acknowledge(incident_id: str, payload: AckCreate, request: Request) -> dict[str, Any]:
    """Take note of an entry of this incident (its opening, an update, a comment, a media
    item): "this OC has taken note of it". Noting an entry again changes nothing."""
    node = node_of(request)
    incident = hex_id(incident_id)
    state = incident_state(node, incident)
    target = bytes.fromhex(payload.entry)
    envelope = node.store.entry_by_id(target)
    entry = None if envelope is None else decode(envelope, node.roster, verify=False)
    if entry is None or entry.incident != incident or not entry.shown_to(node.identity.public_key):
        raise ApiError(404, "not_found", f"incident {incident_id} has no entry {payload.entry}")
    if entry.kind is Kind.ACK:
        raise ApiError(422, "invalid_field", "entry: an acknowledgement is not acknowledged")
    held = state.partials[state.opening.exercise].acks.get(target, {})
    noted = held.get((node.identity.public_key, AckLevel.NOTED))
    if noted is not None:
        return ack_json(noted)
    ack = write(request, lambda: Ack(incident, target, AckLevel.NOTED), state.opening.exercise)
    return ack_json(node.replica.readable(ack))


def event_of(node: Any, n: int, envelope: bytes) -> dict[str, Any] | None:
    """The event of a stored entry, or None for one addressed to other members."""
    entry = node.replica.readable(decode(envelope, node.roster, verify=False))
    if entry is None or not entry.shown_to(node.identity.public_key):
        return None  # sealed for others, a key share, or addressed to others
    view = node.incident_view(entry.incident)
    data = {
        "entry": {
            "id": entry.id.hex(),
            "kind": entry.kind.name.lower(),
            "author": author(node.roster, entry.author),
            "seq": entry.seq,
            "incident": None if entry.kind is Kind.PROFILE else entry.incident.hex(),  # a profile is about none
            "exercise": entry.exercise,
            "operator": entry.operator,
        },
        "incident": view,
    }
    return {"id": str(n), "event": "entry", "data": json.dumps(data)}


@router.get(
    "/v1/events",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "One `entry` event per stored entry"}},
)
async def events(
    request: Request, last_event_id: str | None = Header(None, alias="Last-Event-ID")
) -> EventSourceResponse:
    """Server-Sent Events: one `entry` event per new entry (with the incident's new state).

    Resume with `Last-Event-ID`; without it, only entries stored from now on are sent.
    """
    node = node_of(request)
    if last_event_id is not None and not last_event_id.isdigit():
        raise ApiError(422, "invalid_field", "Last-Event-ID: not an event id")
    after = int(last_event_id) if last_event_id is not None else node.store.last_event()

    auth = request.app.state.auth

    async def stream() -> Any:
        nonlocal after
        while True:
            if not auth.still_valid(request):  # logged out, removed or expired: no more news
                return
            batch = node.store.events_after(after, limits.api_event_batch_max)
            for n, envelope in batch:
                event = event_of(node, n, envelope)
                if event is not None:
                    yield event
                after = n
            if len(batch) < limits.api_event_batch_max:
                with trio.move_on_after(limits.api_event_keepalive_ms / 1000):
                    await node.wait_changed()

    return _CountedEvents(node, stream(), ping=limits.api_event_keepalive_ms // 1000)


class _CountedEvents(EventSourceResponse):
    """Admits a live-event client only while fewer than api_event_clients_max are open,
    checking and counting in one step (the check and the count used to be apart, and a
    burst of clients passed the cap between them)."""

    def __init__(self, node: Any, content: Any, ping: int) -> None:
        super().__init__(content, ping=ping)
        self.node = node

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.node.event_clients >= limits.api_event_clients_max:
            busy = error_response(503, "too_many_clients", f"at most {limits.api_event_clients_max} live-event clients")
            return await busy(scope, receive, send)
        self.node.event_clients += 1
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.node.event_clients -= 1
