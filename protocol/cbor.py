"""Deterministic CBOR: the one encoding every QROC structure has on the wire and on disk.

Rules (RFC 8949 §4.2.1 core deterministic encoding, restricted; SPEC.md §1):
- definite lengths only, shortest integer and length headers;
- maps have unique keys in ascending order; QROC maps use small unsigned integer keys,
  or byte-string keys of one fixed length, so length-first and bytewise ordering agree;
- no tags (so no bignums: every integer fits major type 0 or 1), no floats, no undefined,
  no simple values but false, true and null;
- at most `cbor_depth_max` nested arrays and maps (the top one counted).

A decoder accepts bytes only if re-encoding the decoded value gives the same bytes, which
rejects every non-canonical form at once (long headers, unsorted keys); then it walks the
value once for what re-encoding cannot see (a bignum or a tagged date re-encodes to the
same bytes, a float to a float).
"""

from typing import Any

import cbor2

from . import limits
from .errors import Malformed, NonCanonical, TooLarge

_INT_MIN = -(1 << 64)
_INT_LIMIT = 1 << 64
_SCALARS = (bytes, str, bool, type(None))


def encode(value: Any) -> bytes:
    return cbor2.dumps(value, canonical=True)


def _check(value: Any) -> None:
    """Only the data model of SPEC.md §1, nested at most cbor_depth_max deep. Walks one
    level of nesting at a time (no call per item: a sync message holds hundreds)."""
    level = [value]
    depth = 0
    while level:
        deeper: list[Any] = []
        for item in level:
            kind = type(item)
            if kind is int:
                if not _INT_MIN <= item < _INT_LIMIT:
                    raise Malformed("integers beyond 64 bits (bignum tags) are not allowed")
            elif kind in _SCALARS:
                continue
            elif kind is not list and kind is not dict:
                raise Malformed(f"CBOR {kind.__name__} values (tags, floats, simple values) are not allowed")
            elif depth >= limits.cbor_depth_max:
                raise Malformed(f"nested deeper than {limits.cbor_depth_max} arrays and maps")
            elif kind is dict:
                deeper.extend(item)
                deeper.extend(item.values())
            else:
                deeper.extend(item)
        level = deeper
        depth += 1


def decode(data: bytes | bytearray | memoryview, bytes_max: int) -> Any:
    """Decode canonical CBOR of at most `bytes_max` bytes; raise only ProtocolError."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise Malformed("expected bytes")
    if len(data) > bytes_max:
        raise TooLarge(f"{len(data)} bytes exceeds {bytes_max}")
    data = bytes(data)
    try:
        # cbor2 counts depth its own way; one level of slack lets the walk below give the
        # verdict while cbor2 still stops a hostile nesting before it costs anything.
        value = cbor2.loads(
            data,
            max_depth=limits.cbor_depth_max + 1,
            allow_indefinite=False,
            allow_duplicate_keys=False,
        )
    except Exception as exc:  # cbor2 raises many types; all mean "not CBOR we accept"
        raise Malformed(f"not well-formed CBOR: {exc}") from None
    try:
        again = cbor2.dumps(value, canonical=True)
    except Exception:  # e.g. a shared-reference tag that decoded to a cycle
        raise NonCanonical("value cannot be re-encoded") from None
    if again != data:
        raise NonCanonical("bytes are not the deterministic encoding")
    _check(value)
    return value


def decode_own(data: bytes) -> Any:
    """Bytes our own store holds, which `decode` accepted on the way in: parsed only, for
    the canonical re-encoding and the walk were a third of a 100,000-entry start-up."""
    try:
        return cbor2.loads(data, max_depth=limits.cbor_depth_max + 1, allow_indefinite=False)
    except Exception as exc:  # a store damaged on disk: the caller sets the entry aside
        raise Malformed(f"not well-formed CBOR: {exc}") from None
