"""Entry bodies: what each kind of entry says about an incident.

Every body is a CBOR map with small-integer keys (SPEC.md §4). Opening and update bodies
share keys 1–7 (the incident's fields); comments and media manifests have keys of their own:

    open, update:  0 incident (update only)  1 title  2 category  3 severity  4 status
                   5 description  6 location [lat_e7, lon_e7, place]  7 tags (added)
                   8 tags removed [[tag, [add ids]]] (update only)
                   9 origin [format, sender, identifier] (open only: an imported incident)
    comment:       0 incident  1 text
    media:         0 incident  1 file name  2 MIME type  3 size  4 chunk size
                   5 chunk hashes  6 SHA-256 of the file
    ack:           0 incident  1 entry acknowledged  2 level (1 delivered, 2 noted)
    profile:       0 questionnaire key  1 answers [[area, current, target, note]]
    sealed:        0 incident (absent: opens one)  1 key id  2 nonce  3 ciphertext
                   4 wrapped keys [[recipient, nonce, box]] (protocol/sealed.py)
    proposal, approval, address: the roster's governance (protocol/charter.py)

Rules:
- The constructors are the validators: a body that exists is valid, whether an API
  request built it or the decoder did, so a node cannot sign what its peers refuse.
- Sets (tags, removal ids) have one encoding: sorted, no duplicates, and an empty list is
  left out rather than sent.
"""

import re
from dataclasses import dataclass, field
from enum import IntEnum
from itertools import pairwise
from typing import Any

from . import limits
from .charter import Address, Approval, Proposal
from .errors import InvalidField
from .kinds import Kind
from .schema import Fields, as_array, as_bytes32
from .text import Shape, TextRule


class AckLevel(IntEnum):
    DELIVERED = 1  # written by an addressee's node when the entry is stored there
    NOTED = 2  # a person at the OC has taken note of it


class Category(IntEnum):
    CBRNE = 1
    MANHUNT = 2
    CROWD = 3
    TERRORISM = 4
    OTHER = 5


class Severity(IntEnum):
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4


class Status(IntEnum):
    OPEN = 1
    MONITORING = 2
    RESOLVED = 3
    CLOSED = 4


LAT_E7_MAX = 90 * 10**7
LON_E7_MAX = 180 * 10**7

TITLE = TextRule("title", limits.title_chars_max)
DESCRIPTION = TextRule("description", limits.text_chars_max, Shape.FREE, empty=True)
PLACE = TextRule("location place", limits.place_chars_max, empty=True)
TAG = TextRule("tag", limits.tag_chars_max)
COMMENT_TEXT = TextRule("text", limits.text_chars_max, Shape.FREE)
QUESTIONNAIRE = TextRule("questionnaire", limits.questionnaire_chars_max)
AREA = TextRule("area", limits.questionnaire_chars_max)
NOTE = TextRule("note", limits.profile_note_chars_max, Shape.FREE, empty=True)
ORIGIN_FORMAT = TextRule("origin format", 16)  # cap, edxl-de, emsi, cot: a short name
ORIGIN_ID = TextRule("origin", limits.origin_chars_max)
FILE_NAME = TextRule("file name", limits.file_name_chars_max, Shape.FILE_NAME)
# RFC 6838 restricted names, lower case (MIME types are case-insensitive: one spelling).
_MIME = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")

FIELD_KEYS = {1: "title", 2: "category", 3: "severity", 4: "status", 5: "description", 6: "location", 7: "tags"}
OPEN_KEYS = {**FIELD_KEYS, 9: "origin"}
UPDATE_KEYS = {0: "incident", **FIELD_KEYS, 7: "tags added", 8: "tags removed"}
COMMENT_KEYS = {0: "incident", 1: "text"}
ACK_KEYS = {0: "incident", 1: "entry", 2: "level"}
PROFILE_KEYS = {0: "questionnaire", 1: "answers"}
SEALED_MEDIA_NAME = "sealed"  # what a non-recipient knows of a sealed media item's name
SEALED_KEYS = {0: "incident", 1: "key id", 2: "nonce", 3: "ciphertext", 4: "wrapped keys", 5: "media stream"}
MEDIA_KEYS = {
    0: "incident",
    1: "file name",
    2: "MIME type",
    3: "size",
    4: "chunk size",
    5: "chunk hashes",
    6: "SHA-256",
}


def check_mime(value: object) -> str:
    if type(value) is not str or len(value) > limits.mime_chars_max or not _MIME.fullmatch(value):
        raise InvalidField(f"MIME type must be a lower-case type/subtype of at most {limits.mime_chars_max} characters")
    return value


def _check_enum(value: object, kind: type[IntEnum], name: str) -> None:
    if value is not None and not isinstance(value, kind):
        raise InvalidField(f"{name} must be a {kind.__name__.lower()}")


@dataclass(frozen=True, slots=True)
class Location:
    """WGS84 position in units of 1e-7 degree (integers keep encodings exact) and a place name."""

    lat_e7: int
    lon_e7: int
    place: str = ""

    def __post_init__(self) -> None:
        if type(self.lat_e7) is not int or type(self.lon_e7) is not int:
            raise InvalidField("location latitude and longitude must be whole numbers of 1e-7 degree")
        if not (-LAT_E7_MAX <= self.lat_e7 <= LAT_E7_MAX and -LON_E7_MAX <= self.lon_e7 <= LON_E7_MAX):
            raise InvalidField("location is outside -90..90 latitude / -180..180 longitude")
        PLACE.check(self.place)

    def to_cbor(self) -> list[Any]:
        return [self.lat_e7, self.lon_e7, self.place]

    def degrees(self) -> dict[str, Any]:
        """As local tools read a location: latitude and longitude in degrees, and the place."""
        return {"lat": self.lat_e7 / 1e7, "lon": self.lon_e7 / 1e7, "place": self.place}

    @classmethod
    def from_cbor(cls, value: Any) -> "Location":
        if type(value) is not list or len(value) != 3:
            raise InvalidField("location must be [lat_e7, lon_e7, place]")
        return cls(value[0], value[1], value[2])


def _tag(value: Any) -> str:
    return TAG.check(value)


@dataclass(frozen=True, slots=True)
class Registers:
    """The last-writer-wins fields an entry sets; None means "not set by this entry"."""

    title: str | None = None
    category: Category | None = None
    severity: Severity | None = None
    status: Status | None = None
    description: str | None = None
    location: Location | None = None

    def __post_init__(self) -> None:
        if self.title is not None:
            TITLE.check(self.title)
        if self.description is not None:
            DESCRIPTION.check(self.description)
        _check_enum(self.category, Category, "category")
        _check_enum(self.severity, Severity, "severity")
        _check_enum(self.status, Status, "status")
        if self.location is not None and not isinstance(self.location, Location):
            raise InvalidField("location must be a location")

    def to_cbor(self) -> dict[int, Any]:
        out: dict[int, Any] = {}
        for key, name in REGISTER_KEYS.items():
            value = getattr(self, name)
            if value is not None:
                out[key] = value.to_cbor() if isinstance(value, Location) else value
        return out

    @classmethod
    def read(cls, fields: Fields) -> "Registers":
        location = fields.raw(6, required=False)
        return cls(
            title=fields.raw(1, required=False),
            category=fields.enum(2, Category, required=False),
            severity=fields.enum(3, Severity, required=False),
            status=fields.enum(4, Status, required=False),
            description=fields.raw(5, required=False),
            location=None if location is None else Location.from_cbor(location),
        )

    def items(self) -> list[tuple[str, Any]]:
        return [(name, getattr(self, name)) for name in REGISTER_KEYS.values() if getattr(self, name) is not None]


REGISTER_KEYS = {1: "title", 2: "category", 3: "severity", 4: "status", 5: "description", 6: "location"}


def _check_tags(tags: tuple[str, ...], name: str) -> None:
    if len(tags) > limits.tags_max:
        raise InvalidField(f"{name}: {len(tags)} tags; at most {limits.tags_max} are allowed")
    for tag in tags:
        TAG.check(tag)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an imported incident came from: the standard (cap, edxl-de, emsi, cot), the
    sender and the sender's identifier, as that standard names them."""

    format: str
    sender: str
    identifier: str

    def __post_init__(self) -> None:
        ORIGIN_FORMAT.check(self.format)
        ORIGIN_ID.check(self.sender)
        ORIGIN_ID.check(self.identifier)

    def to_cbor(self) -> list[str]:
        return [self.format, self.sender, self.identifier]

    @classmethod
    def from_cbor(cls, value: Any) -> "Origin":
        if type(value) is not list or len(value) != 3:
            raise InvalidField("origin must be [format, sender, identifier]")
        return cls(*value)


@dataclass(frozen=True, slots=True)
class Open:
    """Opens an incident; its entry id becomes the incident id. Without a status it opens
    with status open, and that value takes part in the status register like any other."""

    registers: Registers
    tags: tuple[str, ...] = ()
    origin: Origin | None = None
    kind = Kind.OPEN

    def __post_init__(self) -> None:
        r = self.registers
        if r.title is None or r.category is None or r.severity is None:
            raise InvalidField("opening an incident needs a title, a category and a severity")
        object.__setattr__(self, "tags", tuple(sorted(set(self.tags))))
        _check_tags(self.tags, "tags")
        if self.origin is not None and not isinstance(self.origin, Origin):
            raise InvalidField("origin must be an origin")

    def to_cbor(self) -> dict[int, Any]:
        out = self.registers.to_cbor()
        if self.tags:
            out[7] = list(self.tags)
        if self.origin is not None:
            out[9] = self.origin.to_cbor()
        return out

    @classmethod
    def from_cbor(cls, value: Any) -> "Open":
        fields = Fields(value, "open body", OPEN_KEYS)
        origin = fields.raw(9, required=False)
        return cls(
            Registers.read(fields),
            fields.array(7, _tag, limits.tags_max, sorted_unique=True),
            None if origin is None else Origin.from_cbor(origin),
        )


def _removal(value: Any) -> tuple[str, tuple[bytes, ...]]:
    if type(value) is not list or len(value) != 2:
        raise InvalidField("a tag removal is [tag, [add entry ids]]")
    tag = _tag(value[0])
    ids = as_array(
        value[1], f"removal of tag {tag!r}", lambda v: as_bytes32(v, "add entry id"), limits.tag_remove_ids_max, True
    )
    return tag, ids


@dataclass(frozen=True, slots=True)
class Update:
    """Sets registers and adds or removes tags. A removal names the adds it observed, so a
    concurrent add of the same tag survives it (add-wins)."""

    incident: bytes
    registers: Registers = field(default_factory=Registers)
    tags_add: tuple[str, ...] = ()
    tags_remove: tuple[tuple[str, tuple[bytes, ...]], ...] = ()
    kind = Kind.UPDATE

    def __post_init__(self) -> None:
        as_bytes32(self.incident, "incident")
        object.__setattr__(self, "tags_add", tuple(sorted(set(self.tags_add))))
        _check_tags(self.tags_add, "tags added")
        removes = tuple(sorted((tag, tuple(sorted(set(ids)))) for tag, ids in self.tags_remove))
        object.__setattr__(self, "tags_remove", removes)
        _check_tags(tuple(tag for tag, _ in removes), "tags removed")
        for tag, ids in removes:
            if not 0 < len(ids) <= limits.tag_remove_ids_max:
                raise InvalidField(
                    f"removing tag {tag!r} names {len(ids)} adds; from 1 to {limits.tag_remove_ids_max} are allowed"
                )
            for add_id in ids:
                as_bytes32(add_id, "add entry id")
        if not (self.registers.items() or self.tags_add or self.tags_remove):
            raise InvalidField("an update must change at least one field")
        if any(a[0] == b[0] for a, b in pairwise(removes)):
            raise InvalidField("a tag is removed twice in one update")

    def to_cbor(self) -> dict[int, Any]:
        out = {0: self.incident, **self.registers.to_cbor()}
        if self.tags_add:
            out[7] = list(self.tags_add)
        if self.tags_remove:
            out[8] = [[tag, list(ids)] for tag, ids in self.tags_remove]
        return out

    @classmethod
    def from_cbor(cls, value: Any) -> "Update":
        fields = Fields(value, "update body", UPDATE_KEYS)
        return cls(
            fields.bytes32(0),
            Registers.read(fields),
            fields.array(7, _tag, limits.tags_max, sorted_unique=True),
            fields.array(8, _removal, limits.tags_max, sorted_unique=True),
        )


@dataclass(frozen=True, slots=True)
class Comment:
    incident: bytes
    text: str
    kind = Kind.COMMENT

    def __post_init__(self) -> None:
        as_bytes32(self.incident, "incident")
        COMMENT_TEXT.check(self.text)

    def to_cbor(self) -> dict[int, Any]:
        return {0: self.incident, 1: self.text}

    @classmethod
    def from_cbor(cls, value: Any) -> "Comment":
        fields = Fields(value, "comment body", COMMENT_KEYS)
        return cls(fields.bytes32(0), fields.raw(1))


@dataclass(frozen=True, slots=True)
class Media:
    """A media manifest: the file is the concatenation of the chunks, in order."""

    incident: bytes
    name: str
    mime: str
    size: int
    chunk_size: int
    chunks: tuple[bytes, ...]
    sha256: bytes
    kind = Kind.MEDIA

    def __post_init__(self) -> None:
        as_bytes32(self.incident, "incident")
        FILE_NAME.check(self.name)
        check_mime(self.mime)
        if type(self.chunk_size) is not int or not 0 < self.chunk_size <= limits.chunk_bytes_max:
            raise InvalidField(f"chunk size must be 1 to {limits.chunk_bytes_max} bytes")
        if type(self.size) is not int or not 0 < self.size <= limits.media_bytes_max:
            raise InvalidField(f"media size must be 1 to {limits.media_bytes_max} bytes")
        if len(self.chunks) != -(-self.size // self.chunk_size) or len(self.chunks) > limits.media_chunks_max:
            raise InvalidField(
                f"chunk count must be size / chunk size rounded up, at most {limits.media_chunks_max} chunks"
            )
        for chunk_hash in self.chunks:
            as_bytes32(chunk_hash, "chunk hash")
        as_bytes32(self.sha256, "SHA-256")

    def chunk_length(self, index: int) -> int:
        if index == len(self.chunks) - 1:
            return self.size - index * self.chunk_size
        return self.chunk_size

    def to_cbor(self) -> dict[int, Any]:
        return {
            0: self.incident,
            1: self.name,
            2: self.mime,
            3: self.size,
            4: self.chunk_size,
            5: list(self.chunks),
            6: self.sha256,
        }

    @classmethod
    def from_cbor(cls, value: Any) -> "Media":
        fields = Fields(value, "media body", MEDIA_KEYS)
        return cls(
            fields.bytes32(0),
            fields.raw(1),
            fields.raw(2),
            fields.uint(3, minimum=1),
            fields.uint(4, minimum=1),
            as_array(fields.raw(5), "chunk hashes", lambda v: v, limits.media_chunks_max),
            fields.raw(6),
        )


@dataclass(frozen=True, slots=True)
class Ack:
    """ "The author's OC has this entry" (delivered) or "has taken note of it" (noted).
    The incident is the acknowledged entry's, so an ack folds beside what it answers."""

    incident: bytes
    entry: bytes
    level: AckLevel
    kind = Kind.ACK

    def __post_init__(self) -> None:
        as_bytes32(self.incident, "incident")
        as_bytes32(self.entry, "entry")
        if not isinstance(self.level, AckLevel):
            raise InvalidField("level must be 1 (delivered) or 2 (noted)")

    def to_cbor(self) -> dict[int, Any]:
        return {0: self.incident, 1: self.entry, 2: self.level}

    @classmethod
    def from_cbor(cls, value: Any) -> "Ack":
        fields = Fields(value, "ack body", ACK_KEYS)
        return cls(fields.bytes32(0), fields.bytes32(1), fields.enum(2, AckLevel))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Answer:
    """One capability area of a self-assessment: maturity today, maturity wanted, a note.
    The questionnaire (assessment/) gives the areas and the scale; the wire bounds them."""

    area: str
    current: int
    target: int
    note: str = ""

    def __post_init__(self) -> None:
        AREA.check(self.area)
        for name in ("current", "target"):
            level = getattr(self, name)
            if type(level) is not int or not 0 <= level <= limits.profile_level_max:
                raise InvalidField(f"area {self.area!r}: {name} must be a level from 0 to {limits.profile_level_max}")
        NOTE.check(self.note)

    def to_cbor(self) -> list[Any]:
        return [self.area, self.current, self.target, self.note]

    @classmethod
    def from_cbor(cls, value: Any) -> "Answer":
        if type(value) is not list or len(value) != 4:
            raise InvalidField("an answer is [area, current, target, note]")
        return cls(*value)


@dataclass(frozen=True, slots=True)
class Profile:
    """An OC's self-assessment against one questionnaire. It concerns no incident: the
    latest profile of each author is its current one, and its log keeps every earlier save."""

    questionnaire: str
    answers: tuple[Answer, ...]
    kind = Kind.PROFILE

    def __post_init__(self) -> None:
        QUESTIONNAIRE.check(self.questionnaire)
        object.__setattr__(self, "answers", tuple(sorted(self.answers, key=lambda a: a.area)))
        if not 0 < len(self.answers) <= limits.profile_areas_max:
            raise InvalidField(f"a profile answers 1 to {limits.profile_areas_max} areas")
        if any(a.area == b.area for a, b in pairwise(self.answers)):
            raise InvalidField("a profile answers an area twice")

    def to_cbor(self) -> dict[int, Any]:
        return {0: self.questionnaire, 1: [a.to_cbor() for a in self.answers]}

    @classmethod
    def from_cbor(cls, value: Any) -> "Profile":
        fields = Fields(value, "profile body", PROFILE_KEYS)
        answers = as_array(fields.raw(1), "answers", Answer.from_cbor, limits.profile_areas_max)
        if any(a.area >= b.area for a, b in pairwise(answers)):
            raise InvalidField("answers must be sorted by area and free of duplicates")
        return cls(fields.raw(0), answers)


def _bytes(value: Any, what: str, size: int | None = None, size_max: int | None = None) -> bytes:
    if type(value) is not bytes or (size is not None and len(value) != size):
        raise InvalidField(f"{what} must be {size} bytes" if size else f"{what} must be bytes")
    if size_max is not None and len(value) > size_max:
        raise InvalidField(f"{what} is over {size_max} bytes")
    return value


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """An incident's content key, boxed for one recipient by the entry's author."""

    recipient: bytes
    nonce: bytes
    box: bytes

    def __post_init__(self) -> None:
        as_bytes32(self.recipient, "recipient")
        _bytes(self.nonce, "key nonce", limits.sealed_nonce_bytes)
        _bytes(self.box, "wrapped key", limits.sealed_key_bytes + limits.sealed_tag_bytes)

    def to_cbor(self) -> list[bytes]:
        return [self.recipient, self.nonce, self.box]

    @classmethod
    def from_cbor(cls, value: Any) -> "WrappedKey":
        if type(value) is not list or len(value) != 3:
            raise InvalidField("a wrapped key is [recipient, nonce, box]")
        return cls(*value)


@dataclass(frozen=True, slots=True)
class Sealed:
    """An entry of a restricted incident: its body encrypted under the incident's content
    key (named by its key id), and/or that key wrapped for recipients. What it says and
    who may read it are protocol/sealed.py's rules."""

    incident: bytes | None  # None: this entry opens the restricted incident
    key_id: bytes
    nonce: bytes | None = None
    ciphertext: bytes | None = None
    keys: tuple[WrappedKey, ...] = ()
    # Sealed media: the encrypted chunks' stream [size, chunk size, hashes], in the clear
    # so that every member fetches, stores and relays them (protocol/sealed.py).
    stream: tuple[int, int, tuple[bytes, ...]] | None = None
    kind = Kind.SEALED

    def __post_init__(self) -> None:
        if self.stream is not None:
            if self.incident is None or self.ciphertext is None:
                raise InvalidField("a media stream comes with a sealed media item of an incident")
            self.carried()  # the stream's rules are a manifest's
        if self.incident is not None:
            as_bytes32(self.incident, "incident")
        _bytes(self.key_id, "key id", limits.sealed_key_id_bytes)
        if (self.nonce is None) != (self.ciphertext is None):
            raise InvalidField("a sealed entry has a nonce and a ciphertext, or neither")
        if self.nonce is not None:
            _bytes(self.nonce, "nonce", limits.sealed_nonce_bytes)
            _bytes(self.ciphertext, "ciphertext", size_max=limits.entry_bytes_max)
        object.__setattr__(self, "keys", tuple(sorted(self.keys, key=lambda k: k.recipient)))
        if len(self.keys) > limits.addressees_max:
            raise InvalidField(f"at most {limits.addressees_max} wrapped keys")
        if any(a.recipient == b.recipient for a, b in pairwise(self.keys)):
            raise InvalidField("a recipient's key is wrapped twice")
        if self.ciphertext is None and not self.keys:
            raise InvalidField("a sealed entry carries a ciphertext, wrapped keys or both")
        if self.incident is None and (self.ciphertext is None or not self.keys):
            raise InvalidField("opening a restricted incident needs its sealed opening and its recipients' keys")

    def to_cbor(self) -> dict[int, Any]:
        out: dict[int, Any] = {1: self.key_id}
        if self.incident is not None:
            out[0] = self.incident
        if self.nonce is not None:
            out[2], out[3] = self.nonce, self.ciphertext
        if self.keys:
            out[4] = [k.to_cbor() for k in self.keys]
        if self.stream is not None:
            out[5] = [self.stream[0], self.stream[1], list(self.stream[2])]
        return out

    def carried(self) -> Media:
        """The encrypted chunks as a manifest the chunk transfer reads (name, type and
        SHA-256 are sealed: placeholders stand in)."""
        assert self.stream is not None and self.incident is not None
        size, chunk_size, chunks = self.stream
        return Media(self.incident, SEALED_MEDIA_NAME, "application/octet-stream", size, chunk_size, chunks, bytes(32))

    @classmethod
    def from_cbor(cls, value: Any) -> "Sealed":
        fields = Fields(value, "sealed body", SEALED_KEYS)
        keys = fields.array(4, WrappedKey.from_cbor, limits.addressees_max)
        if any(a.recipient >= b.recipient for a, b in pairwise(keys)):
            raise InvalidField("wrapped keys must be sorted by recipient, each once")
        stream = fields.raw(5, False)
        if stream is not None:
            if type(stream) is not list or len(stream) != 3 or type(stream[0]) is not int or type(stream[1]) is not int:
                raise InvalidField("a media stream is [size, chunk size, chunk hashes]")
            stream = (stream[0], stream[1], as_array(stream[2], "chunk hashes", lambda v: v, limits.media_chunks_max))
        return cls(
            fields.bytes32(0, required=False), fields.raw(1), fields.raw(2, False), fields.raw(3, False), keys, stream
        )


Body = Open | Update | Comment | Media | Ack | Profile | Sealed | Proposal | Approval | Address
BODY_TYPES: dict[Kind, type[Body]] = {
    Kind.OPEN: Open,
    Kind.UPDATE: Update,
    Kind.COMMENT: Comment,
    Kind.MEDIA: Media,
    Kind.ACK: Ack,
    Kind.PROFILE: Profile,
    Kind.SEALED: Sealed,
    Kind.PROPOSAL: Proposal,
    Kind.APPROVAL: Approval,
    Kind.ADDRESS: Address,
}
