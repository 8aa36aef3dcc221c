"""Request and response shapes of the HTTP API (v1), from which OpenAPI is generated."""

from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic import Strict as PydanticStrict

from protocol import limits
from protocol.body import COMMENT_TEXT, DESCRIPTION, PLACE, TAG, TITLE, Category, Severity, Status
from protocol.entry import EXERCISE
from protocol.errors import InvalidField
from protocol.text import TextRule

CategoryName = Enum("CategoryName", {c.name.lower(): c.name.lower() for c in Category}, type=str)  # type: ignore[misc]
SeverityName = Enum("SeverityName", {s.name.lower(): s.name.lower() for s in Severity}, type=str)  # type: ignore[misc]
StatusName = Enum("StatusName", {s.name.lower(): s.name.lower() for s in Status}, type=str)  # type: ignore[misc]


def _rule(rule: TextRule) -> Callable[[str], str]:
    """The protocol's own text rule as a pydantic validator: the API refuses exactly what
    every member's decoder refuses (422 naming the field)."""

    def check(value: str) -> str:
        try:
            return rule.check(value)
        except InvalidField as exc:
            raise ValueError(str(exc)) from None

    return check


def _lf(value: object) -> object:
    """Free text may come with CRLF line ends (Windows tools, HTML forms): stored as LF."""
    return value.replace("\r\n", "\n") if isinstance(value, str) else value


def _text(rule: TextRule, free: bool = False) -> Any:
    """A JSON text field under `rule`; its length and shape also appear in OpenAPI."""
    constraints = StringConstraints(min_length=0 if rule.empty else 1, max_length=rule.chars_max)
    if free:
        return Annotated[str, BeforeValidator(_lf), constraints, AfterValidator(_rule(rule))]
    return Annotated[str, constraints, AfterValidator(_rule(rule))]


Title = _text(TITLE)
Text = _text(DESCRIPTION, free=True)
NonBlankText = _text(COMMENT_TEXT, free=True)
Tag = _text(TAG)
Exercise = _text(EXERCISE)
Place = _text(PLACE)
Tags = Annotated[list[Tag], Field(max_length=limits.tags_max)]  # type: ignore[valid-type]


class Strict(BaseModel):
    """Unknown fields are refused; numbers must be numbers (pydantic's lax mode would take
    "1.5" or true for a float; its strings already refuse numbers)."""

    model_config = ConfigDict(extra="forbid")


class Location(Strict):
    lat: Annotated[float, PydanticStrict(), Field(ge=-90, le=90, allow_inf_nan=False)]
    lon: Annotated[float, PydanticStrict(), Field(ge=-180, le=180, allow_inf_nan=False)]
    place: Place = ""  # type: ignore[valid-type]


Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


class IncidentCreate(Strict):
    title: Title
    category: CategoryName
    severity: SeverityName
    description: Text = ""
    status: StatusName = StatusName.open  # type: ignore[attr-defined]
    location: Location | None = None
    tags: Tags = []
    exercise: Exercise | None = Field(None, description="Exercise name; absent or null for real traffic")
    restricted_to: list[Country] | None = Field(
        None,
        max_length=limits.addressees_max,
        description="Country codes of the OCs that may read it (this OC always may); absent: every member",
    )


class Recipients(Strict):
    add: list[Country] = Field(default_factory=list, max_length=limits.addressees_max)
    remove: list[Country] = Field(default_factory=list, max_length=limits.addressees_max)


class IncidentPatch(Strict):
    title: Title | None = None
    category: CategoryName | None = None
    severity: SeverityName | None = None
    description: Text | None = None
    status: StatusName | None = None
    location: Location | None = None
    tags: Tags | None = Field(None, description="The complete new tag set")


class CommentCreate(Strict):
    text: NonBlankText


class Author(BaseModel):
    name: str | None
    country: str | None
    peer_id: str | None
    public_key: str


class CommentOut(BaseModel):
    id: str
    text: str
    author: Author
    operator: str | None = Field(description="Display name of the operator who wrote it (null: a tool)")
    created_at: str


class MediaOut(BaseModel):
    id: str
    name: str
    mime: str
    size: int
    sha256: str
    chunk_size: int
    chunks: int
    posted_at: str
    operator: str | None
    complete: bool = Field(description="This node holds the whole file: it can be downloaded and shown")


class Origin(BaseModel):
    format: str = Field(description="cap, edxl-de, emsi or cot")
    sender: str
    identifier: str


class Incident(BaseModel):
    id: str
    title: str
    description: str
    category: CategoryName
    severity: SeverityName
    status: StatusName
    location: dict[str, Any] | None
    tags: list[str]
    exercise: str | None
    origin: Origin | None = Field(description="Where an imported incident came from (null: opened here)")
    restricted_to: list[Author] | None = Field(None, description="A restricted incident's readers (null: every member)")
    created_at: str
    updated_at: str
    author: Author
    operator: str | None = Field(description="Display name of the operator who opened it (null: a tool)")
    comments: list[CommentOut] | None = Field(description="null in view=summary")
    comment_count: int
    media: list[MediaOut]


class IncidentList(BaseModel):
    incidents: list[Incident]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next (older) page")


class Missing(BaseModel):
    peer_id: str
    name: str
    country: str
    connected: bool
    last_seen: str | None


class Delivery(BaseModel):
    members: int = Field(description="Other members of the roster")
    delivered: list[str] = Field(description="Peer ids of the members known to hold the entry")
    missing: list[Missing] = Field(description="The members not known to hold it yet")


class Acknowledgement(BaseModel):
    member: Author
    operator: str | None = Field(description="Who took note (level noted), or null for a node's receipt")
    at: str


class Acknowledgements(BaseModel):
    delivered: list[Acknowledgement] = Field(description="Addressees' nodes that confirmed storing the entry")
    noted: list[Acknowledgement] = Field(description="OCs where a person has taken note of the entry")


class TimelineEntry(BaseModel):
    id: str
    kind: str
    seq: int
    author: Author
    operator: str | None
    at: str
    exercise: str | None
    to: list[Author] | None = Field(description="The addressees, or null: every member")
    changes: dict[str, Any] = Field(description="Fields set, tags added or removed, comment text, media item")
    delivery: Delivery
    acknowledged: Acknowledgements


class AckCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entry: str = Field(pattern="^[0-9a-f]{64}$", description="Id of the entry of this incident taken note of")


class AckOut(BaseModel):
    id: str = Field(description="The acknowledgement entry's id")
    incident: str
    entry: str
    level: Literal["delivered", "noted"]
    at: str


class Timeline(BaseModel):
    entries: list[TimelineEntry]
    truncated: bool = Field(description="Older entries than these exist (api_timeline_entries_max)")


class Exercise(BaseModel):
    name: str
    incidents: int


class ExerciseList(BaseModel):
    exercises: list[Exercise]


class ErrorBody(BaseModel):
    code: str
    message: str


class Error(BaseModel):
    error: ErrorBody


class Health(BaseModel):
    status: str
    version: str
    peer_id: str
    writable: bool
    write_refused: ErrorBody | None = Field(
        None, description="Why writes are refused now (catching_up, clock_ahead, identity_forked, ...)"
    )
    peers_connected: int


class Counts(BaseModel):
    entries: int
    incidents: int


class NodeInfo(BaseModel):
    name: str
    country: str
    peer_id: str
    public_key: str
    addrs: list[str]
    version: str
    counts: Counts
    writable: bool
    pending_entries: int


class Peer(BaseModel):
    name: str
    country: str
    peer_id: str
    connected: bool
    last_seen: str | None = Field(description="Last connect or disconnect, RFC 3339")
    behind: int | None = Field(description="Entries this peer lacks that we hold (as of our last sync with it)")
    ahead: int | None = Field(description="Entries this peer holds that we lack (as of our last sync with it)")
    media_in_flight: int = Field(description="Media chunk requests and answers between us and it now")
    throttled: int = Field(description="Its inputs dropped over its budgets since this node started")
    offences: int = Field(description="Its invalid or excess inputs since this node started")
    banned_until: str | None = Field(description="Refused until then for repeated offences (null: not banned)")


class PeerList(BaseModel):
    peers: list[Peer]


class Head(BaseModel):
    author: Author
    seq: int = Field(description="Highest canonical seq held (0: none, e.g. forked at seq 1)")
    id: str | None
    fork_seq: int | None = Field(description="The author's proven fork seq: its entries from there on are excluded")


class SyncPeer(BaseModel):
    peer_id: str
    name: str
    connected: bool
    we_lack: dict[str, int] | None = Field(description="Per author public key: entries the peer holds that we lack")
    they_lack: dict[str, int] | None = Field(description="Per author public key: entries we hold that the peer lacks")


class SyncStatus(BaseModel):
    heads: list[Head]
    pending_entries: int
    peers: list[SyncPeer]
