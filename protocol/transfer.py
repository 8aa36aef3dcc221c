"""Chunk transfer: the request/response messages and the fetch planner (SPEC.md §6.1).

Messages on `/qroc/chunks/1` (each framed like sync: 4-byte length, then CBOR):

    request  = {0: 1, 1: manifest id}      HAVE: which chunks of this item do you hold?
             | {0: 2, 1: chunk hash}       GET: send me this chunk
    response = {0: bitmap}                 to HAVE: bit i set = chunk i held (bit i is
                                           (bitmap[i // 8] >> (i % 8)) & 1)
             | {1: frame}                  to GET: the chunk frame (protocol/media.py)
             | {2: code}                   1 = not held, 2 = unknown manifest

Which chunk to ask of whom is decided by protocol/planner.py.
"""

from typing import Any

from . import cbor, limits
from .errors import InvalidField, Malformed, TooLarge
from .schema import Fields

OP_HAVE = 1
OP_GET = 2
NOT_HELD = 1
UNKNOWN_MANIFEST = 2


def encode_request(op: int, arg: bytes) -> bytes:
    return cbor.encode({0: op, 1: arg})


def decode_request(data: bytes) -> tuple[int, bytes]:
    fields = Fields(cbor.decode(data, 64), "chunk request", range(0, 2))
    op = fields.uint(0)
    if op not in (OP_HAVE, OP_GET):
        raise InvalidField(f"unknown chunk request op {op}")
    return op, fields.bytes32(1)


def encode_bitmap(held: list[bool]) -> bytes:
    out = bytearray((len(held) + 7) // 8)
    for i, h in enumerate(held):
        if h:
            out[i // 8] |= 1 << (i % 8)
    return cbor.encode({0: bytes(out)})


def encode_frame_response(frame: bytes) -> bytes:
    """cbor.encode({1: frame}), written directly: cbor2 takes 1.5 ms to encode a 1 MiB
    byte string, a copy takes 0.03 ms."""
    n = len(frame)
    if n < 24:
        head = bytes([0x40 | n])
    else:
        width = 1 if n < 1 << 8 else 2 if n < 1 << 16 else 4 if n < 1 << 32 else 8
        head = bytes([0x58 + width.bit_length() - 1]) + n.to_bytes(width, "big")
    return b"\xa1\x01" + head + frame


def encode_error(code: int) -> bytes:
    return cbor.encode({2: code})


def _frame_payload(data: bytes) -> memoryview | None:
    """The frame inside a `{1: frame}` response, read straight from its CBOR header, or
    None if `data` is not exactly that in deterministic encoding. The general decoder
    copies a megabyte three times (decode, re-encode, compare): a tenth of a
    receiver's CPU in bench_media."""
    if len(data) < 3 or data[0] != 0xA1 or data[1] != 0x01 or data[2] >> 5 != 2:
        return None
    info = data[2] & 0x1F
    if info < 24:
        length, start = info, 3
    elif 24 <= info <= 27:
        width = 1 << (info - 24)
        length, start = int.from_bytes(data[3 : 3 + width], "big"), 3 + width
        if length < (24 if width == 1 else 1 << (4 * width)):
            return None  # not the shortest length form: left to the general decoder's verdict
    else:
        return None
    return memoryview(data)[start:] if len(data) - start == length else None  # no copy


def decode_response(data: bytes) -> tuple[int, Any]:
    """(0, bitmap bytes) | (1, frame bytes) | (2, error code)."""
    if len(data) > limits.chunk_frame_bytes_max + 64:
        raise TooLarge(f"chunk response of {len(data)} bytes")
    frame = _frame_payload(data)
    if frame is not None:
        return 1, frame
    fields = Fields(cbor.decode(data, limits.chunk_frame_bytes_max + 64), "chunk response", range(0, 3))
    present = [k for k in range(3) if fields.has(k)]
    if len(present) != 1:
        raise Malformed("a chunk response has exactly one field")
    key = present[0]
    if key == 2:
        code = fields.uint(2)
        if code not in (NOT_HELD, UNKNOWN_MANIFEST):
            raise InvalidField(f"unknown chunk response code {code}")
        return 2, code
    value = fields.raw(key)
    if type(value) is not bytes:
        raise Malformed("chunk response payload must be bytes")
    return key, value
