"""Signed, hash-chained entries: the unit of replication and the audit trail.

Wire form (SPEC.md §3):

    envelope = [content: bstr, signature: bstr(64)]          ; CBOR array of 2
    content  = {0: version, 1: author, 2: seq, 3: prev, 4: hlc, 5: kind, 6: body, ?7: exercise}
    signature = Ed25519(author, ENTRY_DOMAIN || content)
    id        = BLAKE2b-256(envelope)

Rules:
- `seq` starts at 1 for each author; `prev` is null at seq 1 and the id of the author's
  entry at seq-1 otherwise (checked by the log when the entry links, not here).
- Decoding checks, in order of cost: size, envelope, canonical content, version, author in
  the roster, signature, then the body schema. Only ProtocolError escapes.
"""

from dataclasses import dataclass
from typing import Any

from . import cbor, limits
from .body import BODY_TYPES, Body, Kind
from .errors import InvalidField, Malformed, UnknownAuthor, UnsupportedVersion
from .identity import Identity, hash32, signature_bytes
from .roster import Roster
from .schema import Fields, as_text

FORMAT_VERSION = 1
ENTRY_DOMAIN = b"qroc-mesh/entry/v1\x00"


@dataclass(frozen=True, slots=True)
class Entry:
    author: bytes
    seq: int
    prev: bytes | None
    hlc: int
    body: Body
    exercise: str | None
    id: bytes
    signed: bytes  # the envelope: what travels and what is stored

    @property
    def kind(self) -> Kind:
        return self.body.kind

    @property
    def incident(self) -> bytes:
        """The incident this entry concerns (an opening entry concerns itself)."""
        return self.id if self.body.kind is Kind.OPEN else self.body.incident  # type: ignore[union-attr]

    @property
    def order_key(self) -> tuple[int, bytes, bytes]:
        """Total order for last-writer-wins and comment lists: (hlc, author, id)."""
        return (self.hlc, self.author, self.id)


def _content(author: bytes, seq: int, prev: bytes | None, hlc: int, body: Body, exercise: str | None) -> dict[int, Any]:
    content: dict[int, Any] = {
        0: FORMAT_VERSION,
        1: author,
        2: seq,
        3: prev,
        4: hlc,
        5: int(body.kind),
        6: body.to_cbor(),
    }
    if exercise is not None:
        content[7] = exercise
    return content


def create(
    identity: Identity, seq: int, prev: bytes | None, hlc: int, body: Body, exercise: str | None = None
) -> Entry:
    """Sign a new entry. The caller (the log owner) supplies seq, prev and a fresh HLC tick."""
    if seq < 1 or (seq == 1) != (prev is None):
        raise InvalidField("seq starts at 1, and only the first entry has no prev")
    if exercise is not None:
        as_text(exercise, "exercise", limits.exercise_chars_max)
    content = cbor.encode(_content(identity.public_key, seq, prev, hlc, body, exercise))
    signed = cbor.encode([content, identity.sign(ENTRY_DOMAIN, content)])
    if len(signed) > limits.entry_bytes_max:
        raise InvalidField(f"entry of {len(signed)} bytes exceeds {limits.entry_bytes_max}")
    return Entry(identity.public_key, seq, prev, hlc, body, exercise, hash32(signed), signed)


def decode(data: bytes, roster: Roster, verify: bool = True) -> Entry:
    """Decode and verify an entry. Raises only ProtocolError subclasses.

    `verify=False` skips only the signature check, for entries read back from our own
    store, which verified them on the way in (a restart must not cost 75 µs an entry).
    """
    envelope = cbor.decode(data, limits.entry_bytes_max)
    if (
        type(envelope) is not list
        or len(envelope) != 2
        or type(envelope[0]) is not bytes
        or type(envelope[1]) is not bytes
    ):
        raise Malformed("an entry is [content, signature]")
    content_bytes, signature = envelope
    if len(signature) != signature_bytes:
        raise Malformed("signature must be 64 bytes")
    fields = Fields(cbor.decode(content_bytes, limits.entry_bytes_max), "entry", range(0, 8))
    if fields.raw(0) != FORMAT_VERSION or type(fields.raw(0)) is not int:
        raise UnsupportedVersion(f"entry format version {fields.raw(0)!r} is not {FORMAT_VERSION}")
    author = fields.bytes32(1)
    member = roster.get(author)
    if member is None:
        raise UnknownAuthor("entry author is not in the roster")
    if verify:
        member.verifier.verify(ENTRY_DOMAIN, content_bytes, signature)
    seq = fields.uint(2, minimum=1)
    prev = fields.bytes32(3, required=False)
    if (seq == 1) != (prev is None):
        raise InvalidField("seq 1 has no prev; every later entry has one")
    if not fields.has(3):
        raise Malformed("entry lacks field 3 (prev)")
    try:
        kind = Kind(fields.raw(5)) if type(fields.raw(5)) is int else None
    except ValueError:
        kind = None
    if kind is None:
        raise InvalidField(f"unknown entry kind {fields.raw(5)!r}")
    body = BODY_TYPES[kind].from_cbor(fields.raw(6))
    exercise = fields.text(7, limits.exercise_chars_max, required=False)
    return Entry(author, seq, prev, fields.uint(4), body, exercise, hash32(data), bytes(data))
