"""One Ed25519 key per member: it signs entries and, as a libp2p PeerID, authenticates links.

The seed is 32 bytes. PyNaCl's SigningKey(seed) and libp2p's
create_identity_from_seed(seed) give the same key pair, so the node derives its PeerID
from the seed it signs with. `peer_id_of` computes that PeerID here, without libp2p:
base58btc of the identity multihash of the protobuf-encoded public key.
"""

import hashlib

import nacl.bindings
import nacl.exceptions
import nacl.public
import nacl.signing

from .errors import BadSignature, InvalidField

seed_bytes = 32
public_key_bytes = 32
signature_bytes = 64
# Protobuf PublicKey{Type: Ed25519 (1), Data: 32 bytes}, prefixed by the identity
# multihash header (code 0x00, length 0x24).
_PEER_ID_PREFIX = bytes([0x00, 0x24, 0x08, 0x01, 0x12, 0x20])
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _b58encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = []
    while number:
        number, digit = divmod(number, 58)
        out.append(_B58[digit])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(out))


def public_key_of(peer_id: str) -> bytes:
    """The Ed25519 public key a PeerID embeds; InvalidField if it is not such a PeerID."""
    number = 0
    for char in peer_id:
        digit = _B58.find(char)
        if digit < 0 or len(peer_id) > 64:
            raise InvalidField(f"{peer_id[:64]!r} is not an Ed25519 PeerID")
        number = number * 58 + digit
    data = number.to_bytes(len(_PEER_ID_PREFIX) + public_key_bytes, "big") if number.bit_length() <= 8 * 38 else b""
    if not data.startswith(_PEER_ID_PREFIX) or peer_id_of(data[len(_PEER_ID_PREFIX) :]) != peer_id:
        raise InvalidField(f"{peer_id[:64]!r} is not an Ed25519 PeerID")
    return data[len(_PEER_ID_PREFIX) :]


def peer_id_of(public_key: bytes) -> str:
    if len(public_key) != public_key_bytes:
        raise InvalidField("public key must be 32 bytes")
    return _b58encode(_PEER_ID_PREFIX + public_key)


def hash32(data: bytes) -> bytes:
    """BLAKE2b-256: entry ids and media chunk hashes."""
    return hashlib.blake2b(data, digest_size=32).digest()


class Identity:
    """A member's signing key. Holds the secret: never serialise it except to its file."""

    __slots__ = ("_key", "public_key")

    def __init__(self, seed: bytes) -> None:
        if len(seed) != seed_bytes:
            raise InvalidField("identity seed must be 32 bytes")
        self._key = nacl.signing.SigningKey(seed)
        self.public_key = bytes(self._key.verify_key)

    @property
    def peer_id(self) -> str:
        return peer_id_of(self.public_key)

    def sign(self, domain: bytes, message: bytes) -> bytes:
        return self._key.sign(domain + message).signature

    def _box(self, other: bytes) -> nacl.public.Box:
        """crypto_box between our key and another member's, both as X25519 (libsodium's
        conversion of Ed25519 keys): one key pair per member for signing and sealing."""
        secret = nacl.bindings.crypto_sign_ed25519_sk_to_curve25519(bytes(self._key) + self.public_key)
        return nacl.public.Box(nacl.public.PrivateKey(secret), nacl.public.PublicKey(x25519_public(other)))

    def wrap(self, recipient: bytes, key: bytes, nonce: bytes) -> bytes:
        """`key` boxed for `recipient` (its Ed25519 public key), from us."""
        return self._box(recipient).encrypt(key, nonce).ciphertext

    def unwrap(self, author: bytes, nonce: bytes, box: bytes) -> bytes:
        """A key `author` boxed for us; BadSignature if it was not (tampered, or not ours)."""
        try:
            return self._box(author).decrypt(box, nonce)
        except nacl.exceptions.CryptoError:
            raise BadSignature("a wrapped key does not open") from None


def x25519_public(public_key: bytes) -> bytes:
    try:
        return nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(public_key)
    except nacl.exceptions.RuntimeError:
        raise InvalidField("not an Ed25519 public key") from None


class Verifier:
    """A public key ready to verify; cached per member because building one costs."""

    __slots__ = ("_key",)

    def __init__(self, public_key: bytes) -> None:
        if len(public_key) != public_key_bytes:
            raise InvalidField("public key must be 32 bytes")
        try:
            self._key = nacl.signing.VerifyKey(public_key)
        except Exception:
            raise InvalidField("not an Ed25519 public key") from None

    def verify(self, domain: bytes, message: bytes, signature: bytes) -> None:
        if len(signature) != signature_bytes:
            raise BadSignature("signature must be 64 bytes")
        try:
            self._key.verify(domain + message, signature)
        except nacl.exceptions.BadSignatureError:
            raise BadSignature("signature does not verify") from None
