"""Signed, hash-chained entries: the unit of replication and the audit trail.

Wire form (SPEC.md §3):

    envelope = [content: bstr, signature: bstr(64)]          ; CBOR array of 2
    content  = {0: version, 1: author, 2: seq, 3: prev, 4: hlc, 5: kind, 6: body, ?7: exercise,
                ?8: operator, ?9: to}
    signature = Ed25519(author, ENTRY_DOMAIN || content)
    id        = BLAKE2b-256(envelope)

Rules:
- `seq` starts at 1 for each author; `prev` is null at seq 1 and the id of the author's
  entry at seq-1 otherwise (checked by the log when the entry links, not here).
- Decoding checks, in order of cost: size, envelope, canonical content, version, author in
  the roster, signature, then the fields and the body, and for a former member's key that
  the seq is not past its last accepted one. Only ProtocolError escapes.
- `operator` names the person at the author's OC who wrote the entry (a console login's
  display name): the audit trail says who, not only which OC. It is the author's claim,
  signed with the OC's key; entries without it (tools, older nodes) stay valid.
- `to` addresses an entry to some members (an exercise inject to its target OCs): the
  sorted public keys of its addressees. Every member stores and relays it, as any entry;
  only the addressees and the author fold it into what they show (Replica), and each
  addressee's node answers it with a delivery receipt. It is not secrecy (issue 14's
  restricted incidents are): a non-addressee's store holds it in the clear.
- What we sign, every member accepts: `create` decodes the content it built with the same
  reader `decode` uses, and refuses to sign if that fails or reads back anything else.
"""

from dataclasses import dataclass, field
from typing import Any

from . import cbor, limits
from .body import BODY_TYPES, Body, Kind
from .errors import InvalidField, Malformed, Revoked, UnknownAuthor, UnsupportedVersion
from .identity import Identity, hash32, signature_bytes
from .roster import Member, Roster
from .schema import Fields, as_bytes32
from .text import TextRule

FORMAT_VERSION = 1
ENTRY_DOMAIN = b"qroc-mesh/entry/v1\x00"
EXERCISE = TextRule("exercise", limits.exercise_chars_max)
OPERATOR = TextRule("operator", limits.operator_chars_max)
CONTENT_KEYS = {
    **{0: "version", 1: "author", 2: "seq", 3: "prev", 4: "hlc", 5: "kind", 6: "body"},
    **{7: "exercise", 8: "operator", 9: "to"},
}
_NULLABLE = frozenset({3})  # prev is null at seq 1: the one null of the format


@dataclass(frozen=True, slots=True)
class Content:
    """What an author signs: every field of an entry but its id and bytes."""

    author: bytes
    seq: int
    prev: bytes | None
    hlc: int
    body: Body
    exercise: str | None
    operator: str | None
    to: tuple[bytes, ...]  # addressees' public keys, sorted; empty: every member


@dataclass(frozen=True, slots=True)
class Entry(Content):
    id: bytes
    # The envelope: what travels and what is stored. Empty for an entry read back from our
    # own store at start-up (`restore`): its bytes stay there. The id stands for it in
    # comparisons (it is the envelope's hash).
    signed: bytes = field(compare=False)

    @property
    def kind(self) -> Kind:
        return self.body.kind

    @property
    def incident(self) -> bytes:
        """The incident this entry concerns. An opening concerns itself (a sealed one too);
        so does a profile, which is about no incident (it is indexed like one and opens
        nothing)."""
        incident = getattr(self.body, "incident", None)
        return self.id if incident is None else incident  # type: ignore[no-any-return]

    @property
    def order_key(self) -> tuple[int, bytes, bytes]:
        """Total order for last-writer-wins and comment lists: (hlc, author, id)."""
        return (self.hlc, self.author, self.id)

    def shown_to(self, member: bytes | None) -> bool:
        """Whether `member`'s node folds and shows this entry: it is for everyone, or
        addressed to `member`, or `member` wrote it."""
        return not self.to or member == self.author or member in self.to


def _encode_content(c: Content) -> bytes:
    content: dict[int, Any] = {
        0: FORMAT_VERSION,
        1: c.author,
        2: c.seq,
        3: c.prev,
        4: c.hlc,
        5: int(c.body.kind),
        6: c.body.to_cbor(),
    }
    if c.exercise is not None:
        content[7] = c.exercise
    if c.operator is not None:
        content[8] = c.operator
    if c.to:
        content[9] = list(c.to)
    return cbor.encode(content)


def _parse(content_bytes: bytes) -> Fields:
    return _fields(cbor.decode(content_bytes, limits.entry_bytes_max))


def _fields(content: Any) -> Fields:
    fields = Fields(content, "entry", CONTENT_KEYS, _NULLABLE)
    if fields.raw(0) != FORMAT_VERSION or type(fields.raw(0)) is not int:
        raise UnsupportedVersion(f"entry format version {fields.raw(0)!r} is not {FORMAT_VERSION}")
    return fields


def _read(fields: Fields) -> tuple[Any, ...]:
    """Every field but the version (checked by `_parse`) and the signature, in Content's
    order (a tuple: building a frozen Content per entry, then the Entry, cost twice)."""
    author = fields.bytes32(1)
    seq = fields.uint(2, minimum=1)
    if not fields.has(3):
        raise Malformed("entry lacks prev (key 3)")
    prev = fields.bytes32(3, required=False)
    if (seq == 1) != (prev is None):
        raise InvalidField("seq 1 has no prev; every later entry has one")
    hlc = fields.uint(4)
    raw_kind = fields.raw(5)
    if type(raw_kind) is not int or raw_kind < 1:
        raise InvalidField(f"entry kind {raw_kind!r} is not a whole number from 1")
    try:
        kind = Kind(raw_kind)
    except ValueError:  # a later version's kind: not this member's fault, nor ours
        raise UnsupportedVersion(f"entry kind {raw_kind} is newer than this software") from None
    body = BODY_TYPES[kind].from_cbor(fields.raw(6))
    exercise = fields.text(7, EXERCISE, required=False)
    operator = fields.text(8, OPERATOR, required=False)
    to = fields.array(9, lambda v: as_bytes32(v, "addressee"), limits.addressees_max, sorted_unique=True)
    return author, seq, prev, hlc, body, exercise, operator, to


def create(
    identity: Identity,
    seq: int,
    prev: bytes | None,
    hlc: int,
    body: Body,
    exercise: str | None = None,
    operator: str | None = None,
    to: tuple[bytes, ...] = (),
) -> Entry:
    """Sign a new entry. The caller (the log owner) supplies seq, prev and a fresh HLC tick.
    Raises InvalidField, naming the field, for anything a decoder would refuse."""
    wanted = Content(identity.public_key, seq, prev, hlc, body, exercise, operator, tuple(sorted(set(to))))
    try:
        content = _encode_content(wanted)
    except (TypeError, ValueError) as exc:  # e.g. a lone surrogate cannot be UTF-8
        raise InvalidField(f"entry cannot be encoded: {exc}") from None
    if Content(*_read(_parse(content))) != wanted:
        raise InvalidField("entry does not read back as written")
    signed = cbor.encode([content, identity.sign(ENTRY_DOMAIN, content)])
    if len(signed) > limits.entry_bytes_max:
        raise InvalidField(f"entry of {len(signed)} bytes exceeds {limits.entry_bytes_max}")
    return Entry(*_fields_of(wanted), hash32(signed), signed)


def decode(data: bytes, roster: Roster, verify: bool = True) -> Entry:
    """Decode and verify an entry. Raises only ProtocolError subclasses.

    `verify=False` skips only the signature check, for entries read back from our own
    store, which verified them on the way in (a restart must not cost 75 µs an entry).
    """
    content_bytes, signature = _split(cbor.decode(data, limits.entry_bytes_max))
    fields = _parse(content_bytes)
    member = _member(fields, roster)
    if verify:
        member.verifier.verify(ENTRY_DOMAIN, content_bytes, signature)
    return _checked(_read(fields), roster, hash32(data), bytes(data))


def restore(data: bytes, entry_id: bytes, roster: Roster) -> Entry:
    """An entry read back from our own store at start-up, with the id stored beside it.

    The store holds only what `decode` accepted, so the signature check and the canonical
    re-encoding are left out; every field is read and checked as `decode` does, and the
    roster still has its say (a key revoked since). The envelope stays in the store
    (`signed` is empty; Store.entry_by_id has it): start-up folds each entry and lets go.
    """
    content_bytes, _ = _split(cbor.decode_own(data))
    fields = _fields(cbor.decode_own(content_bytes))
    _member(fields, roster)
    return _checked(_read(fields), roster, entry_id, b"")


def _split(envelope: Any) -> tuple[bytes, bytes]:
    """An envelope's content and signature, checked for shape."""
    if (
        type(envelope) is not list
        or len(envelope) != 2
        or type(envelope[0]) is not bytes
        or type(envelope[1]) is not bytes
    ):
        raise Malformed("an entry is [content, signature]")
    if len(envelope[1]) != signature_bytes:
        raise Malformed("signature must be 64 bytes")
    return envelope[0], envelope[1]


def _member(fields: Fields, roster: Roster) -> Member:
    member = roster.get(fields.bytes32(1))
    if member is None:
        raise UnknownAuthor("entry author is not in the roster")
    return member


def _checked(read: tuple[Any, ...], roster: Roster, entry_id: bytes, signed: bytes) -> Entry:
    author, seq = read[0], read[1]
    last_seq = roster.last_seq(author)
    if last_seq is not None and seq > last_seq:
        raise Revoked(f"entry at seq {seq} of a key whose last accepted seq is {last_seq} (revoked or rotated)")
    return Entry(*read, entry_id, signed)


def _fields_of(c: Content) -> tuple[Any, ...]:
    return (c.author, c.seq, c.prev, c.hlc, c.body, c.exercise, c.operator, c.to)
