import tracemalloc

from protocol import limits
from protocol.body import Media
from protocol.entry import Entry, create, decode
from protocol.identity import hash32
from protocol.planner import FetchPlanner
from protocol.transfer import OP_GET, OP_HAVE

from .factories import NOW_MS, roster_of

(AUTHOR, FLOODER), ROSTER = roster_of(2)
PEERS = {AUTHOR.public_key: "author", FLOODER.public_key: "flooder"}


def manifest(chunks: int, size_each: int = 1000, hlc: int = 0, salt: int = 0, author=AUTHOR, seq: int = 1):
    hashes = tuple(hash32(b"%d %d %d" % (author.public_key[0], salt, i)) for i in range(chunks))
    body = Media(b"\x01" * 32, "f.bin", "application/octet-stream", chunks * size_each, size_each, hashes, bytes(32))
    return create(author, seq, None if seq == 1 else bytes(32), NOW_MS << 16 | hlc, body)


def planner(held: set[bytes], stored: dict | None = None) -> FetchPlanner:
    """`stored`: manifest id -> (manifest, severity), what the node's store gives back."""
    load = (stored if stored is not None else {}).get
    return FetchPlanner(held.__contains__, PEERS.get, "me", lambda: ["author", "flooder", "me", "b", "c"], load)


def serve_all(plan: FetchPlanner, held: set[bytes], peer: str) -> list[bytes]:
    """Ask `peer` for everything it is asked for, storing each chunk; the items finished."""
    finished = []
    while (request := plan.next_request(peer, NOW_MS)) is not None:
        assert request[0] == OP_GET
        held.add(request[1])
        finished += plan.done(peer, request[1], "ok", NOW_MS)
    return finished


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
    # Two receivers between them hold chunks 0-5 and get no more; only the author has 6 and 7.
    now = NOW_MS + limits.home_stall_ms + 1
    for at in (NOW_MS, now):
        plan.on_have("b", item.id, bytes([0b00000111]), at)
        plan.on_have("c", item.id, bytes([0b00111111]), at)
    asked = {plan.next_request("author", now)[1] for _ in range(2)}
    assert asked == {item.body.chunks[6], item.body.chunks[7]}
    # The rest is left to b and c, whose upload is not the one everybody waits on ...
    assert plan.next_request("author", now) is None
    # ... and of what they hold, c alone has 3-5: c is asked for those before 0-2.
    assert plan.next_request("c", now)[1] in item.body.chunks[3:6]


def test_the_author_is_not_asked_for_a_chunk_on_its_way_to_its_home_until_that_home_stalls():
    plan = planner(set())
    item = manifest(32)
    plan.want(item, severity=2)
    assert plan.next_request("b", NOW_MS) == (OP_HAVE, item.id)  # asked, not answered yet
    for peer in ("c", "flooder"):  # every other receiver is fetching: its bitmap just started
        plan.on_have(peer, item.id, bytes(4), NOW_MS)
    asked = set()
    while (request := plan.next_request("author", NOW_MS)) is not None:
        asked.add(request[1])
    home = plan.items[item.id].home
    assert asked == {chunk for i, chunk in enumerate(item.body.chunks) if home >> i & 1}
    # c's bitmap grows, b's and the flooder's do not: their home chunks come from the author.
    later = NOW_MS + limits.home_stall_ms + 1
    for peer, bitmap in (
        ("b", bytes(4)),
        ("flooder", bytes(4)),
        ("c", plan.items[item.id].homes["c"].to_bytes(4, "little")),
    ):
        plan.on_have(peer, item.id, bitmap, later)
    while (request := plan.next_request("author", later)) is not None:
        asked.add(request[1])
    stalled = plan.items[item.id].homes["b"] | plan.items[item.id].homes["flooder"]
    assert asked == {chunk for i, chunk in enumerate(item.body.chunks) if (home | stalled) >> i & 1}


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
        plan = FetchPlanner(set().__contains__, PEERS.get, me, lambda: ["author", *receivers], {}.get)
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


def flood(plan: FetchPlanner, stored: dict, n: int, chunks: int = 1, severity: int = 2) -> list[bool]:
    """The flooder announces n manifests (its chunks are nowhere: it does not serve them)."""
    accepted = []
    for seq in range(1, n + 1):
        entry = manifest(chunks, salt=seq, author=FLOODER, seq=seq)
        stored[entry.id] = (entry, severity)
        accepted.append(plan.want(entry, severity))
    return accepted


def test_a_member_announcing_thousands_of_manifests_fills_only_its_own_share():
    held: set[bytes] = set()
    stored: dict[bytes, tuple[Entry, int]] = {}
    plan = planner(held, stored)
    accepted = flood(plan, stored, 3000)
    share = limits.fetches_active_per_author_max + limits.fetches_waiting_per_author_max
    assert accepted == [True] * share + [False] * (3000 - share)  # the rest stays in the store
    flooded = plan.authors[FLOODER.public_key]
    assert len(plan.items) == flooded.active == limits.fetches_active_per_author_max
    assert len(flooded.waiting) == limits.fetches_waiting_per_author_max and flooded.behind == share + 1
    # An honest member's photo is taken at once; its author is asked about the flooder's
    # few active items (not thousands), then for the photo.
    photo = manifest(1, size_each=300_000)
    assert plan.want(photo, severity=2)
    asked = [plan.next_request("author", NOW_MS) for _ in range(limits.fetches_active_per_author_max + 1)]
    assert asked[-1] == (OP_GET, photo.body.chunks[0])
    assert {a[0] for a in asked[:-1]} == {OP_HAVE}


def test_authors_take_turns_at_equal_severity_and_severity_goes_first():
    plan = planner(set(), {})
    flood(plan, {}, limits.fetches_active_per_author_max, chunks=4)
    mine = [manifest(4, salt=i, seq=i + 1) for i in range(2)]
    for entry in mine:
        plan.want(entry, severity=2)
    for item in plan.items.values():
        plan.on_have("b", item.manifest_id, bytes([0b1111]), NOW_MS)  # b holds everything
    authors = []
    for _ in range(8):
        _, chunk = plan.next_request("b", NOW_MS)
        item, _ = plan.locate(chunk)
        authors.append(item.author)
    assert authors == [FLOODER.public_key, AUTHOR.public_key] * 4
    urgent = manifest(2, salt=9, seq=3)
    plan.want(urgent, severity=4)
    plan.on_have("b", urgent.id, bytes([0b11]), NOW_MS)
    assert {plan.next_request("b", NOW_MS)[1] for _ in range(2)} == set(urgent.body.chunks)


def test_a_photo_takes_the_slot_of_its_authors_largest_item_which_waits_and_comes_back():
    held: set[bytes] = set()
    stored: dict[bytes, tuple[Entry, int]] = {}
    plan = planner(held, stored)
    videos = [manifest(8, 1_000_000, hlc=i, salt=i, seq=i + 1) for i in range(limits.fetches_active_per_author_max)]
    for video in videos:
        stored[video.id] = (video, 2)
        plan.want(video, severity=2)
    photo = manifest(1, size_each=200_000, salt=99, seq=len(videos) + 1)
    plan.want(photo, severity=2)
    newest = videos[-1]  # as large as the others: the newest one waits
    assert photo.id in plan.items and newest.id not in plan.items and plan.knows(newest.id)
    _, chunk = plan.next_request("author", NOW_MS)
    assert chunk == photo.body.chunks[0]
    held.add(chunk)
    assert plan.done("author", chunk, "ok", NOW_MS) == [photo.id]
    assert newest.id in plan.items  # back, and fetched to the end
    assert sorted(serve_all(plan, held, "author")) == sorted(v.id for v in videos)


def test_one_authors_active_items_list_at_most_one_largest_item_of_chunks():
    plan = planner(set(), {})
    flood(plan, {}, 3, chunks=limits.media_chunks_max // 2 + 1)
    assert sum(len(i.media.chunks) for i in plan.items.values()) <= limits.fetch_active_chunks_per_author_max
    assert len(plan.items) == 1


def test_a_flooders_log_is_offered_again_from_the_first_item_turned_away_once_there_is_room():
    held: set[bytes] = set()
    stored: dict[bytes, tuple[Entry, int]] = {}
    plan = planner(held, stored)
    share = limits.fetches_active_per_author_max + limits.fetches_waiting_per_author_max
    flood(plan, stored, share + 5)
    assert plan.resume() == []  # no room yet
    for _ in range(limits.fetches_waiting_per_author_max // 2 + limits.fetches_active_per_author_max):
        request = plan.next_request("flooder", NOW_MS)  # this time the flooder serves
        held.add(request[1])
        plan.done("flooder", request[1], "ok", NOW_MS)
    assert plan.resume() == [(FLOODER.public_key, share + 1)]
    assert plan.resume() == []  # once


def test_an_author_that_does_not_hold_a_chunk_is_asked_what_it_holds_not_again_and_again():
    plan = planner(set(), {})
    (accepted,) = flood(plan, {}, 1)
    assert accepted
    (item,) = plan.items.values()
    op, chunk = plan.next_request("flooder", NOW_MS)
    assert op == OP_GET
    plan.done("flooder", chunk, "missing", NOW_MS)
    assert plan.next_request("flooder", NOW_MS) is None  # no GET loop at round-trip speed
    assert plan.next_request("flooder", NOW_MS + limits.have_refresh_ms) == (OP_HAVE, item.manifest_id)
    plan.on_have("flooder", item.manifest_id, b"\x00", NOW_MS + limits.have_refresh_ms)
    assert plan.next_request("flooder", NOW_MS + limits.have_refresh_ms) is None


def test_the_planner_holds_a_bounded_share_of_a_flood_of_the_largest_manifests():
    """The node's store gives manifests back decoded afresh: so does `load` here."""
    envelopes = {}
    for seq in range(1, 201):
        entry = manifest(limits.media_chunks_max, size_each=limits.chunk_bytes_max, salt=seq, author=FLOODER, seq=seq)
        envelopes[entry.id] = entry.signed
    held: set[bytes] = set()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        plan = FetchPlanner(
            held.__contains__,
            PEERS.get,
            "me",
            lambda: ["author", "flooder", "me", "b"],
            lambda manifest_id: (decode(envelopes[manifest_id], ROSTER, verify=False), 2),
        )
        for signed in envelopes.values():
            plan.want(decode(signed, ROSTER, verify=False), 2)
        plan.on_have("b", next(iter(plan.items)), bytes(limits.media_chunks_max // 8), NOW_MS)
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(plan.items) == 1 and len(plan.authors[FLOODER.public_key].waiting) == 199
    # One decoded chunk list of 4096 hashes (~300 KiB), its index, 199 records; the
    # planner before kept every item whole: ~0.9 MiB each, 180 MiB for these.
    assert retained < 1024 * 1024, retained
