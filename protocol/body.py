"""Entry bodies: what each kind of entry says about an incident.

Every body is a CBOR map with small-integer keys. Keys shared between kinds mean the same
field everywhere (see SPEC.md §4):

    0 incident (id of the opening entry)   5 description
    1 title                               6 location [lat_e7, lon_e7, place]
    2 category                            7 tags (open) / tags added (update)
    3 severity                            8 tags removed (update): [[tag, [add ids]]]
    4 status

Sets (tags, chunk hashes are lists, not sets) are encoded sorted and without duplicates so
that one set has exactly one encoding.
"""

from dataclasses import dataclass, field
from enum import IntEnum
from itertools import pairwise
from typing import Any

from . import limits
from .errors import InvalidField
from .schema import Fields, as_array, as_bytes32, as_text


class Kind(IntEnum):
    OPEN = 1
    UPDATE = 2
    COMMENT = 3
    MEDIA = 4


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


@dataclass(frozen=True, slots=True)
class Location:
    """WGS84 position in units of 1e-7 degree (integers keep encodings exact) and a place name."""

    lat_e7: int
    lon_e7: int
    place: str = ""

    def __post_init__(self) -> None:
        if not (-LAT_E7_MAX <= self.lat_e7 <= LAT_E7_MAX and -LON_E7_MAX <= self.lon_e7 <= LON_E7_MAX):
            raise InvalidField("location is outside -90..90 latitude / -180..180 longitude")

    def to_cbor(self) -> list[Any]:
        return [self.lat_e7, self.lon_e7, self.place]

    @classmethod
    def from_cbor(cls, value: Any) -> "Location":
        if type(value) is not list or len(value) != 3 or type(value[0]) is not int or type(value[1]) is not int:
            raise InvalidField("location must be [lat_e7, lon_e7, place]")
        return cls(value[0], value[1], as_text(value[2], "location place", limits.place_chars_max, empty=True))


def _tag(value: Any) -> str:
    return as_text(value, "tag", limits.tag_chars_max)


@dataclass(frozen=True, slots=True)
class Registers:
    """The last-writer-wins fields an entry sets; None means "not set by this entry"."""

    title: str | None = None
    category: Category | None = None
    severity: Severity | None = None
    status: Status | None = None
    description: str | None = None
    location: Location | None = None

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
            title=fields.text(1, limits.title_chars_max, required=False),
            category=fields.enum(2, Category, required=False),
            severity=fields.enum(3, Severity, required=False),
            status=fields.enum(4, Status, required=False),
            description=fields.text(5, limits.text_chars_max, required=False, empty=True),
            location=None if location is None else Location.from_cbor(location),
        )

    def items(self) -> list[tuple[str, Any]]:
        return [(name, getattr(self, name)) for name in REGISTER_KEYS.values() if getattr(self, name) is not None]


REGISTER_KEYS = {1: "title", 2: "category", 3: "severity", 4: "status", 5: "description", 6: "location"}


@dataclass(frozen=True, slots=True)
class Open:
    """Opens an incident; its entry id becomes the incident id."""

    registers: Registers
    tags: tuple[str, ...] = ()
    kind = Kind.OPEN

    def __post_init__(self) -> None:
        r = self.registers
        if r.title is None or r.category is None or r.severity is None:
            raise InvalidField("opening an incident needs a title, a category and a severity")
        object.__setattr__(self, "tags", tuple(sorted(set(self.tags))))

    def to_cbor(self) -> dict[int, Any]:
        out = self.registers.to_cbor()
        if self.tags:
            out[7] = list(self.tags)
        return out

    @classmethod
    def from_cbor(cls, value: Any) -> "Open":
        fields = Fields(value, "open body", range(1, 8))
        return cls(Registers.read(fields), fields.array(7, _tag, limits.tags_max, sorted_unique=True))


def _removal(value: Any) -> tuple[str, tuple[bytes, ...]]:
    if type(value) is not list or len(value) != 2:
        raise InvalidField("a tag removal is [tag, [add entry ids]]")
    ids = as_array(value[1], "tag removal ids", lambda v: as_bytes32(v, "add entry id"), limits.tags_max, True)
    return _tag(value[0]), ids


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
        object.__setattr__(self, "tags_add", tuple(sorted(set(self.tags_add))))
        removes = tuple(sorted((tag, tuple(sorted(set(ids)))) for tag, ids in self.tags_remove))
        object.__setattr__(self, "tags_remove", removes)
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
        fields = Fields(value, "update body", range(0, 9))
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

    def to_cbor(self) -> dict[int, Any]:
        return {0: self.incident, 1: self.text}

    @classmethod
    def from_cbor(cls, value: Any) -> "Comment":
        fields = Fields(value, "comment body", range(0, 2))
        return cls(fields.bytes32(0), fields.text(1, limits.text_chars_max))


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
        if not 0 < self.chunk_size <= limits.chunk_bytes_max:
            raise InvalidField(f"chunk size must be 1 to {limits.chunk_bytes_max} bytes")
        if not 0 < self.size <= limits.media_bytes_max:
            raise InvalidField(f"media size must be 1 to {limits.media_bytes_max} bytes")
        if len(self.chunks) != -(-self.size // self.chunk_size):
            raise InvalidField("chunk count does not match size and chunk size")
        if "/" not in self.mime:
            raise InvalidField("mime must be a type/subtype")

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
        fields = Fields(value, "media body", range(0, 7))
        return cls(
            fields.bytes32(0),
            fields.text(1, limits.file_name_chars_max),
            fields.text(2, limits.mime_chars_max),
            fields.uint(3, minimum=1),
            fields.uint(4, minimum=1),
            as_array(fields.raw(5), "media chunks", lambda v: as_bytes32(v, "chunk hash"), limits.media_chunks_max),
            fields.bytes32(6),
        )


Body = Open | Update | Comment | Media
BODY_TYPES: dict[Kind, type[Open] | type[Update] | type[Comment] | type[Media]] = {
    Kind.OPEN: Open,
    Kind.UPDATE: Update,
    Kind.COMMENT: Comment,
    Kind.MEDIA: Media,
}
