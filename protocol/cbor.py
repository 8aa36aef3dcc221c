"""Deterministic CBOR: the one encoding every QROC structure has on the wire and on disk.

Rules (RFC 8949 §4.2.1 core deterministic encoding, restricted):
- definite lengths only, shortest integer and length headers;
- maps have unique keys in ascending order; QROC maps use small unsigned integer keys,
  or byte-string keys of one fixed length, so length-first and bytewise ordering agree;
- no tags, no floats, no undefined; only uint, nint, bstr, tstr, array, map, bool, null.

A decoder accepts bytes only if re-encoding the decoded value gives the same bytes, which
rejects every non-canonical form at once (long headers, unsorted keys, tags, bignums).
"""

from typing import Any

import cbor2

from . import limits
from .errors import Malformed, NonCanonical, TooLarge


def encode(value: Any) -> bytes:
    return cbor2.dumps(value, canonical=True)


def decode(data: bytes, bytes_max: int) -> Any:
    """Decode canonical CBOR of at most `bytes_max` bytes; raise only ProtocolError."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise Malformed("expected bytes")
    if len(data) > bytes_max:
        raise TooLarge(f"{len(data)} bytes exceeds {bytes_max}")
    data = bytes(data)
    try:
        value = cbor2.loads(
            data,
            max_depth=limits.cbor_depth_max,
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
    return value
