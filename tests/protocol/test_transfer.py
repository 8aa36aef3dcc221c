import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import cbor, limits
from protocol.errors import ProtocolError
from protocol.planner import bitmap_mask
from protocol.transfer import (
    OP_GET,
    decode_request,
    decode_response,
    encode_bitmap,
    encode_error,
    encode_frame_response,
    encode_request,
)


def test_transfer_messages_round_trip_and_garbage_is_refused():
    assert decode_request(encode_request(OP_GET, b"\x02" * 32)) == (OP_GET, b"\x02" * 32)
    bitmap = encode_bitmap([True, False, True] + [False] * 6 + [True])
    kind, value = decode_response(bitmap)
    assert kind == 0 and [bitmap_mask(value) >> i & 1 for i in (0, 1, 2, 9, 10)] == [1, 0, 1, 1, 0]
    assert decode_response(encode_frame_response(b"\x00abc")) == (1, b"\x00abc")
    assert decode_response(encode_error(1)) == (2, 1)
    for garbage in (b"", b"\xa0", b"\xa1\x00\x09", encode_request(7, b"\x00" * 32), b"\xa2\x00\x01\x01\x41\x00"):
        with pytest.raises(ProtocolError):
            decode_request(garbage)


@given(
    payload=st.binary(max_size=300) | st.sampled_from([b"\x00" * n for n in (23, 24, 255, 256, 65535, 65536)]),
    cut=st.integers(0, 8),
    flip=st.tuples(st.integers(0, 5), st.integers(0, 255)),
)
def test_the_frame_fast_path_agrees_with_the_general_decoder(payload, cut, flip):
    encoded = encode_frame_response(payload)
    assert encoded == cbor.encode({1: payload})
    assert decode_response(encoded) == (1, payload)
    mutated = bytearray(encoded[: len(encoded) - cut])
    if mutated:
        mutated[flip[0] % len(mutated)] = flip[1]
    try:
        general = cbor.decode(bytes(mutated), limits.chunk_frame_bytes_max + 64)
    except ProtocolError:
        general = None
    try:
        fast = decode_response(bytes(mutated))
    except ProtocolError:
        fast = None
    if fast is not None and fast[0] == 1:
        assert general == {1: fast[1]}
    elif isinstance(general, dict) and [(type(k), k) for k in general] == [(int, 1)] and type(general[1]) is bytes:
        assert fast == (1, general[1])
