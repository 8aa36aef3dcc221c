"""The values bridges map: an incident as the API shows it (export), and what an imported
document says about one (import).

Export takes the API's JSON shape of an incident (GET /v1/incidents/{id}) plus a
`Context`: who this node is and where its media can be fetched. Import returns
`Imported` values; the node turns each into an incident write (protocol/body.py), which
checks every field with the protocol's rules.
"""

from dataclasses import dataclass, field
from typing import Literal, TypedDict, get_args

Category = Literal["cbrne", "manhunt", "crowd", "terrorism", "other"]
Severity = Literal["low", "medium", "high", "critical"]
Status = Literal["open", "monitoring", "resolved", "closed"]
Action = Literal["alert", "update", "cancel"]
# Each value as its own type, to read one from a document: CATEGORIES.get(text).
CATEGORIES: dict[str, Category] = {c: c for c in get_args(Category)}
SEVERITIES: dict[str, Severity] = {s: s for s in get_args(Severity)}
STATUSES: dict[str, Status] = {s: s for s in get_args(Status)}


class Location(TypedDict):
    lat: float
    lon: float
    place: str


class Author(TypedDict):
    name: str | None
    country: str | None
    peer_id: str | None
    public_key: str


class Comment(TypedDict):
    id: str
    text: str
    author: Author
    operator: str | None
    created_at: str  # RFC 3339, UTC, milliseconds


class MediaItem(TypedDict):
    id: str
    name: str
    mime: str
    size: int
    sha256: str


class OriginJson(TypedDict):
    format: str
    sender: str
    identifier: str


class Incident(TypedDict):
    id: str  # 64 hex digits
    title: str
    description: str
    category: Category
    severity: Severity
    status: Status
    location: Location | None
    tags: list[str]
    exercise: str | None
    created_at: str
    updated_at: str
    author: Author
    operator: str | None
    comments: list[Comment] | None
    media: list[MediaItem]
    origin: OriginJson | None


@dataclass(frozen=True, slots=True)
class Context:
    """Who exports: the node's member (sender ids are derived from its peer id) and the
    base URL at which its media items can be fetched (`{media_base}/{id}`)."""

    node_name: str
    country: str
    peer_id: str
    media_base: str
    now_ms: int


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an imported incident came from: the standard, the sender and the sender's own
    identifier (CAP identifier, EDXL distributionID, EMSI CONTEXT/ID, CoT uid)."""

    format: Literal["cap", "edxl-de", "emsi", "cot"]
    sender: str
    identifier: str


class NotAnIncident(ValueError):
    """A valid document that describes something other than an incident (a TAK device's
    own position, a chat message, a drawing): accepted, and nothing is written."""


@dataclass(frozen=True, slots=True)
class Imported:
    """One incident's worth of an imported document. `action`: a new incident (or the same
    again), a change of the incidents it refers to, or their cancellation. `refers_to`:
    for an update or cancel, the origins of the earlier messages it names (CAP
    references, EMSI LINK); the node maps them, or `origin` itself, to the incident.
    Fields left None are not said by the document (an update sets only what it says)."""

    origin: Origin
    action: Action
    exercise: str | None  # our marker: None is real traffic
    title: str | None = None
    category: Category | None = None
    severity: Severity | None = None
    status: Status | None = None
    description: str | None = None
    location: Location | None = None
    tags: tuple[str, ...] = ()
    refers_to: tuple[Origin, ...] = field(default_factory=tuple)
