from protocol import limits
from protocol.body import Media
from protocol.entry import create
from protocol.planner import FetchPlanner
from protocol.transfer import OP_GET, OP_HAVE

from .factories import NOW_MS, identity

AUTHOR = identity(0)


def manifest(chunks: int, size_each: int = 1000, hlc: int = 0, salt: int = 0):
    hashes = tuple(bytes([salt, i]) * 16 for i in range(chunks))
    body = Media(b"\x01" * 32, "f.bin", "application/octet-stream", chunks * size_each, size_each, hashes, bytes(32))
    return create(AUTHOR, 1, None, NOW_MS << 16 | hlc, body)


def planner(held: set[bytes]) -> FetchPlanner:
    author_peer = lambda key: "author" if key == AUTHOR.public_key else None  # noqa: E731
    return FetchPlanner(held.__contains__, author_peer, "me", lambda: ["author", "me", "b", "c"])


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


def test_the_author_is_asked_for_chunks_no_other_peer_holds_first():
    plan = planner(set())
    item = manifest(8)
    plan.want(item, severity=2)
    # Two receivers between them hold chunks 0-5; only the author has 6 and 7.
    plan.on_have("b", item.id, bytes([0b00000111]), NOW_MS)
    plan.on_have("c", item.id, bytes([0b00111111]), NOW_MS)
    asked = {plan.next_request("author", NOW_MS)[1] for _ in range(2)}
    assert asked == {item.body.chunks[6], item.body.chunks[7]}
    # The rest is left to b and c, whose upload is not the one everybody waits on ...
    assert plan.next_request("author", NOW_MS) is None
    # ... and of what they hold, c alone has 3-5: c is asked for those before 0-2.
    assert plan.next_request("c", NOW_MS)[1] in item.body.chunks[3:6]


def test_the_author_serves_what_only_silent_or_slow_peers_hold():
    plan = planner(set())
    item = manifest(4)
    plan.want(item, severity=2)
    plan.on_have("b", item.id, bytes([0b1111]), NOW_MS)
    assert plan.next_request("author", NOW_MS) is None
    # b's bitmap goes stale (b stopped answering): the author is asked again.
    later = NOW_MS + limits.have_stale_ms + 1
    assert plan.next_request("author", later)[0] == OP_GET
    # b answers again but sits on our request: slow, so the author serves the rest.
    plan.on_have("b", item.id, bytes([0b1111]), later)
    assert plan.next_request("b", later)[0] == OP_GET
    assert plan.next_request("author", later) is None
    assert plan.next_request("author", later + limits.chunk_slow_ms + 1)[0] == OP_GET


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


def test_receivers_first_ask_the_author_for_disjoint_chunks():
    item = manifest(64)
    receivers = [f"r{i}" for i in range(4)]
    firsts = []
    for me in receivers:
        plan = FetchPlanner(set().__contains__, lambda key: "author", me, lambda: ["author", *receivers])
        plan.want(item, severity=1)
        firsts.append({plan.next_request("author", NOW_MS)[1] for _ in range(8)})
    assert all(len(a & b) == 0 for i, a in enumerate(firsts) for b in firsts[i + 1 :])


def test_a_chunk_that_repeats_in_a_file_is_fetched_once():
    held: set[bytes] = set()
    plan = planner(held)
    zeros = bytes(32)
    body = Media(b"\x01" * 32, "f.bin", "application/octet-stream", 3000, 1000, (zeros, b"\x07" * 32, zeros), zeros)
    item = create(AUTHOR, 1, None, NOW_MS << 16, body)
    plan.want(item, severity=1)
    fetched = []
    while (request := plan.next_request("author", NOW_MS)) is not None:
        held.add(request[1])
        fetched.append(request[1])
        plan.done("author", request[1], "ok", NOW_MS)
    assert sorted(fetched) == sorted({zeros, b"\x07" * 32}) and plan.items == {}


def test_a_peer_is_asked_what_it_holds_again_while_it_still_serves_us():
    plan = planner(set())
    item = manifest(8)
    plan.want(item, severity=1)
    assert plan.next_request("b", NOW_MS) == (OP_HAVE, item.id)
    plan.on_have("b", item.id, bytes([0b11111111]), NOW_MS)
    assert plan.next_request("b", NOW_MS)[0] == OP_GET
    assert plan.next_request("b", NOW_MS + limits.have_refresh_ms) == (OP_HAVE, item.id)
