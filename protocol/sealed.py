"""Restricted incidents: entries only the chosen members can read (SPEC.md §4.1.2).

An incident opened restricted has a random 32-byte content key. Every entry about it is a
`sealed` entry: its real body (open, update, comment, ack), CBOR-encoded, encrypted with
XChaCha20-Poly1305 under the content key; the authenticated data binds it to the entry's
author and incident, so a ciphertext cannot be replayed under another. Keys travel
wrapped (crypto_box, X25519 from the members' Ed25519 keys) for each recipient, in the
entry that opens the incident and in later `sealed` entries without ciphertext.

Rules:
- Every member stores and relays sealed entries like any other (delivery still works
  through non-recipients); only a member that can unwrap the key folds them.
- The recipients of a key are every member it was wrapped for; the incident's current
  key is the one of its latest (by order key) entry carrying wrapped keys. Adding a
  recipient wraps the current key for it (it reads everything written so far). Removing
  one rotates: a new key wrapped for those who stay; what is written afterwards is under
  it, and the removed member cannot read it (what it read before, it keeps).
- The author wraps every key for itself too: after a restart it reads its own entries.
- A non-recipient learns the author, the time (hlc), the sizes, the incident an entry
  belongs to and the recipients' public keys; nothing of the text.
- Nonces are random and passed in (never reused: 24 bytes).
- Media: each chunk is sealed under a random file key (nonce || XChaCha20-Poly1305 of
  the plain chunk: `sealed_chunk_overhead_bytes` more), and the chunk transfer moves
  those sealed chunks like any other. The manifest is a sealed entry: its name, type,
  SHA-256 and the file key are in the ciphertext; the sealed chunks' stream (size, chunk
  size, hashes) is in the clear, for every member to fetch, hold and relay them. A
  recipient reads it as a media body of the plain file (its size and chunk size) listing
  the sealed chunks' hashes, and opens each chunk with the file key.
"""

from collections.abc import Callable
from dataclasses import replace

import nacl.bindings
import nacl.exceptions

from . import cbor, limits
from .body import BODY_TYPES, Body, Kind, Media, Sealed, WrappedKey
from .entry import Entry
from .errors import BadChunk, InvalidField, Malformed, ProtocolError
from .identity import Identity, hash32
from .media import Chunker

DOMAIN = b"qroc-mesh/sealed/v1\x00"
CHUNK_DOMAIN = b"qroc-mesh/sealed-chunk/v1\x00"
INNER_KINDS = frozenset({Kind.OPEN, Kind.UPDATE, Kind.COMMENT, Kind.MEDIA, Kind.ACK})
_OVERHEAD = limits.sealed_chunk_overhead_bytes
_MEDIA_HIDDEN = (0, 1, 2, 6)  # a sealed media body: incident, name, type, SHA-256 (and key 7, the file key)


def key_id(key: bytes) -> bytes:
    return hash32(DOMAIN + key)[: limits.sealed_key_id_bytes]


def _aad(author: bytes, incident: bytes | None) -> bytes:
    return DOMAIN + author + (incident or b"")


def seal(
    identity: Identity,
    incident: bytes | None,
    inner: Body,
    key: bytes,
    nonce: bytes,
    wrap_for: dict[bytes, bytes] | None = None,
    file_key: bytes | None = None,
) -> Sealed:
    """`inner` sealed under `key`; `wrap_for`: recipient -> the nonce to wrap the key with.
    A media body (a ChunkSealer's) needs the `file_key` its chunks are sealed with."""
    if inner.kind not in INNER_KINDS or (inner.kind is Kind.OPEN) != (incident is None):
        raise InvalidField(f"a {inner.kind.name.lower()} cannot be sealed here")
    if (inner.kind is Kind.MEDIA) != (file_key is not None):
        raise InvalidField("sealed media, and only that, carries the key of its chunks")
    value, stream = inner.to_cbor(), None
    if isinstance(inner, Media):
        assert file_key is not None and len(file_key) == limits.sealed_key_bytes
        count = len(inner.chunks)
        stream = (inner.size + count * _OVERHEAD, inner.chunk_size + _OVERHEAD, inner.chunks)
        value = {**{k: value[k] for k in _MEDIA_HIDDEN}, 7: file_key}
    plain = cbor.encode([int(inner.kind), value])
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plain, _aad(identity.public_key, incident), nonce, key
    )
    return Sealed(incident, key_id(key), nonce, ciphertext, wrap(identity, key, wrap_for or {}), stream)


def wrap(identity: Identity, key: bytes, wrap_for: dict[bytes, bytes]) -> tuple[WrappedKey, ...]:
    return tuple(WrappedKey(r, n, identity.wrap(r, key, n)) for r, n in sorted(wrap_for.items()))


def unwrap(identity: Identity, entry: Entry) -> bytes | None:
    """The content key of a sealed entry, if it was wrapped for us (and opens)."""
    body = entry.body
    assert isinstance(body, Sealed)
    for wrapped in body.keys:
        if wrapped.recipient == identity.public_key:
            key = identity.unwrap(entry.author, wrapped.nonce, wrapped.box)
            if len(key) != limits.sealed_key_bytes or key_id(key) != body.key_id:
                raise InvalidField("a wrapped key does not match its key id")
            return key
    return None


def unseal(entry: Entry, key: bytes) -> tuple[Body, bytes | None]:
    """The real body of a sealed entry, and for media the key of its chunks. Malformed if
    it does not open under `key` (not the author's, or tampered) or holds a body that may
    not be sealed there."""
    body = entry.body
    assert isinstance(body, Sealed) and body.ciphertext is not None and body.nonce is not None
    try:
        plain = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            body.ciphertext, _aad(entry.author, body.incident), body.nonce, key
        )
    except nacl.exceptions.CryptoError:
        raise Malformed("a sealed entry does not open under its key") from None
    value = cbor.decode(plain, limits.entry_bytes_max)
    if type(value) is not list or len(value) != 2 or type(value[0]) is not int:
        raise Malformed("a sealed body is [kind, body]")
    try:
        kind = Kind(value[0])
    except ValueError:
        raise Malformed(f"unknown sealed kind {value[0]}") from None
    if kind not in INNER_KINDS or (kind is Kind.OPEN) != (body.incident is None):
        raise Malformed(f"a {kind.name.lower()} cannot be sealed here")
    if (kind is Kind.MEDIA) != (body.stream is not None):
        raise Malformed("sealed media comes with its stream, and nothing else does")
    inner_value, file_key = value[1], None
    if kind is Kind.MEDIA:
        inner_value, file_key = _media_value(inner_value, body)
    inner = BODY_TYPES[kind].from_cbor(inner_value)
    if kind is not Kind.OPEN and inner.incident != body.incident:  # type: ignore[union-attr]
        raise Malformed("a sealed body names another incident than its entry")
    return inner, file_key


def _media_value(value: object, body: Sealed) -> tuple[dict[int, object], bytes]:
    """A sealed media body as the plain file's manifest (listing the sealed chunks)."""
    if type(value) is not dict or set(value) != {*_MEDIA_HIDDEN, 7}:
        raise Malformed("a sealed media body holds incident, name, type, SHA-256 and the file key")
    file_key = value.pop(7)
    if type(file_key) is not bytes or len(file_key) != limits.sealed_key_bytes:
        raise Malformed("a sealed media item's file key is 32 bytes")
    assert body.stream is not None
    size, chunk_size, chunks = body.stream
    if chunk_size <= _OVERHEAD or size - len(chunks) * _OVERHEAD <= 0:
        raise Malformed("a sealed media stream too small to hold its chunks' nonces and tags")
    return {**value, 3: size - len(chunks) * _OVERHEAD, 4: chunk_size - _OVERHEAD, 5: list(chunks)}, file_key


def carried(entry: Entry) -> Entry | None:
    """The chunk stream an entry carries, as a manifest entry (same id): a media entry
    itself; a sealed media entry's sealed chunks (what every member fetches and relays)."""
    body = entry.body
    if isinstance(body, Media):
        return entry
    if isinstance(body, Sealed) and body.stream is not None:
        return replace(entry, body=body.carried())
    return None


def seal_chunk(file_key: bytes, nonce: bytes, chunk: bytes) -> bytes:
    return nonce + nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(chunk, CHUNK_DOMAIN, nonce, file_key)


def open_chunk(file_key: bytes, sealed: bytes) -> bytes:
    """A plain chunk; BadChunk if it does not open (not sealed with this key, or damaged)."""
    nonce, box = sealed[: limits.sealed_nonce_bytes], sealed[limits.sealed_nonce_bytes :]
    try:
        return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(box, CHUNK_DOMAIN, nonce, file_key)
    except nacl.exceptions.CryptoError:
        raise BadChunk("a sealed chunk does not open under its file key") from None


class ChunkSealer:
    """A Chunker whose chunks are sealed as they are cut (sans-IO; nonces from
    `random_bytes`). The manifest it gives is the plain file's, listing the sealed chunks."""

    def __init__(self, file_key: bytes, random_bytes: Callable[[int], bytes]) -> None:
        self.file_key = file_key
        self.random_bytes = random_bytes
        self._plain = Chunker(limits.chunk_bytes_max - _OVERHEAD)  # a sealed chunk fits a chunk frame
        self._hashes: list[bytes] = []

    def _sealed(self, cut: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        out = []
        for _, chunk in cut:
            sealed = seal_chunk(self.file_key, self.random_bytes(limits.sealed_nonce_bytes), chunk)
            self._hashes.append(hash32(sealed))
            out.append((self._hashes[-1], sealed))
        return out

    def feed(self, data: bytes) -> list[tuple[bytes, bytes]]:
        """The (hash, sealed chunk) pairs completed, in order."""
        return self._sealed(self._plain.feed(data))

    def finish(self, incident: bytes, name: str, mime: str) -> tuple[list[tuple[bytes, bytes]], Media]:
        tail, plain = self._plain.finish(incident, name, mime)
        sealed_tail = self._sealed(tail)
        return sealed_tail, replace(plain, chunks=tuple(self._hashes))


class Keyring:
    """What a member knows of the restricted incidents: every key's recipients (public),
    the keys it could unwrap (secret), each incident's current key, and the sealed entries
    waiting for a key it does not hold yet (a share may arrive after the entries)."""

    def __init__(self, identity: Identity | None) -> None:
        self.identity = identity
        self.keys: dict[bytes, dict[bytes, bytes]] = {}  # incident -> key id -> key
        self.recipients: dict[tuple[bytes, bytes], set[bytes]] = {}  # (incident, key id) -> members
        self.current: dict[bytes, tuple[tuple[int, bytes, bytes], bytes]] = {}  # incident -> (order, key id)
        self.waiting: dict[bytes, list[Entry]] = {}  # incident -> entries under a key not held
        self.file_keys: dict[bytes, bytes] = {}  # sealed media entry id -> the key of its chunks

    def restricted(self, incident: bytes) -> bool:
        return incident in self.current

    def current_key(self, incident: bytes) -> tuple[bytes, bytes] | None:
        """(key id, key) of the incident's current key, if we hold it."""
        if incident not in self.current:
            return None
        kid = self.current[incident][1]
        key = self.keys.get(incident, {}).get(kid)
        return None if key is None else (kid, key)

    def current_recipients(self, incident: bytes) -> set[bytes]:
        if incident not in self.current:
            return set()
        return set(self.recipients.get((incident, self.current[incident][1]), set()))

    def learn(self, entry: Entry) -> list[Entry]:
        """Take in a canonical sealed entry; the entries it makes readable now, unsealed
        (itself, and any that waited for the key it brings), in arrival order."""
        body = entry.body
        assert isinstance(body, Sealed)
        incident = entry.incident
        if body.keys:
            self.recipients.setdefault((incident, body.key_id), set()).update(k.recipient for k in body.keys)
            held = self.current.get(incident)
            if held is None or entry.order_key > held[0]:
                self.current[incident] = (entry.order_key, body.key_id)
        readable: list[Entry] = []
        if self.identity is not None and body.keys:
            try:
                key = unwrap(self.identity, entry)
            except ProtocolError:  # a key wrapped for us that does not open: as if absent
                key = None
            known = self.keys.setdefault(incident, {})
            if key is not None and body.key_id not in known and len(known) < limits.sealed_keys_per_incident_max:
                known[body.key_id] = key
                still = []
                for waiting in self.waiting.pop(incident, []):
                    (readable if waiting.body.key_id == body.key_id else still).append(waiting)  # type: ignore[union-attr]
                if still:
                    self.waiting[incident] = still
        if body.ciphertext is not None:
            if body.key_id in self.keys.get(incident, {}):
                readable.append(entry)
            else:
                self.waiting.setdefault(incident, []).append(entry)
        return [e for e in map(self._opened, readable) if e is not None]

    def _opened(self, entry: Entry) -> Entry | None:
        """readable(), with an entry that does not open dropped: its author signed a
        ciphertext nobody can read, which folds as nothing rather than failing the fold."""
        try:
            return self.readable(entry)
        except ProtocolError:
            return None

    def readable(self, entry: Entry) -> Entry | None:
        """A sealed entry as its real body (same id, author, time), if we hold its key;
        None for a share (keys only) or an entry we cannot read."""
        body = entry.body
        if not isinstance(body, Sealed) or body.ciphertext is None:
            return None
        key = self.keys.get(entry.incident, {}).get(body.key_id)
        if key is None:
            return None
        inner, file_key = unseal(entry, key)
        if file_key is not None:
            self.file_keys[entry.id] = file_key
        return Entry(
            entry.author,
            entry.seq,
            entry.prev,
            entry.hlc,
            inner,
            entry.exercise,
            entry.operator,
            entry.to,
            entry.id,
            entry.signed,
        )
