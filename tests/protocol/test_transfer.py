import pytest

from protocol import limits
from protocol.body import Media
from protocol.entry import create
from protocol.errors import ProtocolError
from protocol.transfer import (
    OP_GET,
    OP_HAVE,
    FetchPlanner,
    bit,
    decode_request,
    decode_response,
    encode_bitmap,
    encode_error,
    encode_frame_response,
    encode_request,
)

from .factories import NOW_MS, identity

AUTHOR = identity(0)


def manifest(chunks: int, size_each: int = 1000, hlc: int = 0, salt: int = 0):
    hashes = tuple(bytes([salt, i]) * 16 for i in range(chunks))
    body = Media(b"\x01" * 32, "f.bin", "application/octet-stream", chunks * size_each, size_each, hashes, bytes(32))
    return create(AUTHOR, 1, None, NOW_MS << 16 | hlc, body)


def planner(held: set[bytes]) -> FetchPlanner:
    return FetchPlanner(held.__contains__, lambda key: "author" if key == AUTHOR.public_key else None, b"salt")


def test_the_author_is_asked_for_chunks_and_others_first_for_what_they_hold():
    held: set[bytes] = set()
    plan = planner(held)
    item = manifest(3)
    plan.want(item, severity=2)
    assert plan.next_request("other", NOW_MS) == (OP_HAVE, item.id)
    assert plan.next_request("other", NOW_MS) is None  # one HAVE at a time
    op, chunk = plan.next_request("author", NOW_MS)
    assert op == OP_GET and chunk in item.body.chunks
    index = item.body.chunks.index(chunk)
    plan.on_have("other", item.id, bytes([0b111 & ~(1 << index)]), NOW_MS)
    second = plan.next_request("other", NOW_MS)
    assert second[0] == OP_GET and second[1] != chunk


def test_higher_severity_then_smaller_items_come_first():
    plan = planner(set())
    video = manifest(8, salt=1)
    photo = manifest(1, salt=2)
    urgent_video = manifest(8, salt=3)
    plan.want(video, severity=2)
    plan.want(photo, severity=2)
    plan.want(urgent_video, severity=4)
    first = plan.next_request("author", NOW_MS)[1]
    assert first in urgent_video.body.chunks
    for _ in range(7):
        plan.next_request("author", NOW_MS)
    assert plan.next_request("author", NOW_MS)[1] == photo.body.chunks[0]


def test_a_peer_that_served_a_bad_chunk_is_left_alone_for_a_while():
    plan = planner(set())
    item = manifest(4)
    plan.want(item, severity=1)
    _, chunk = plan.next_request("author", NOW_MS)
    plan.done("author", chunk, "bad", NOW_MS)
    assert plan.next_request("author", NOW_MS + 1) is None
    assert plan.next_request("author", NOW_MS + limits.bad_peer_penalty_ms + 1) is not None


def test_completion_is_reported_once_every_chunk_is_held():
    held: set[bytes] = set()
    plan = planner(held)
    item = manifest(2)
    plan.want(item, severity=1)
    finished = []
    while (request := plan.next_request("author", NOW_MS)) is not None:
        held.add(request[1])
        finished += plan.done("author", request[1], "ok", NOW_MS)
    assert finished == [item.id] and plan.items == {}


def test_nodes_start_fetching_an_item_at_different_chunks():
    item = manifest(64)
    starts = set()
    for salt in range(8):
        plan = FetchPlanner(set().__contains__, lambda key: "author", bytes([salt]))
        plan.want(item, severity=1)
        starts.add(plan.next_request("author", NOW_MS)[1])
    assert len(starts) > 4


def test_transfer_messages_round_trip_and_garbage_is_refused():
    assert decode_request(encode_request(OP_GET, b"\x02" * 32)) == (OP_GET, b"\x02" * 32)
    bitmap = encode_bitmap([True, False, True] + [False] * 6 + [True])
    kind, value = decode_response(bitmap)
    assert kind == 0 and [bit(value, i) for i in (0, 1, 2, 9, 10)] == [True, False, True, True, False]
    assert decode_response(encode_frame_response(b"\x00abc")) == (1, b"\x00abc")
    assert decode_response(encode_error(1)) == (2, 1)
    for garbage in (b"", b"\xa0", b"\xa1\x00\x09", encode_request(7, b"\x00" * 32), b"\xa2\x00\x01\x01\x41\x00"):
        with pytest.raises(ProtocolError):
            decode_request(garbage)
