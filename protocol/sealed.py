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
- Media on restricted incidents is not sealed yet: the node refuses it.
"""

import nacl.bindings
import nacl.exceptions

from . import cbor, limits
from .body import BODY_TYPES, Body, Kind, Sealed, WrappedKey
from .entry import Entry
from .errors import InvalidField, Malformed, ProtocolError
from .identity import Identity, hash32

DOMAIN = b"qroc-mesh/sealed/v1\x00"
INNER_KINDS = frozenset({Kind.OPEN, Kind.UPDATE, Kind.COMMENT, Kind.ACK})


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
) -> Sealed:
    """`inner` sealed under `key`; `wrap_for`: recipient -> the nonce to wrap the key with."""
    if inner.kind not in INNER_KINDS or (inner.kind is Kind.OPEN) != (incident is None):
        raise InvalidField(f"a {inner.kind.name.lower()} cannot be sealed here")
    plain = cbor.encode([int(inner.kind), inner.to_cbor()])
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plain, _aad(identity.public_key, incident), nonce, key
    )
    return Sealed(incident, key_id(key), nonce, ciphertext, wrap(identity, key, wrap_for or {}))


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


def unseal(entry: Entry, key: bytes) -> Body:
    """The real body of a sealed entry. Malformed if it does not open under `key` (not
    the author's, or tampered) or holds a body that may not be sealed there."""
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
    inner = BODY_TYPES[kind].from_cbor(value[1])
    if kind is not Kind.OPEN and inner.incident != body.incident:  # type: ignore[union-attr]
        raise Malformed("a sealed body names another incident than its entry")
    return inner


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
        inner = unseal(entry, key)
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
