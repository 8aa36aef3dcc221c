"""Chunk transfer: the request/response messages and the fetch planner (SPEC.md §6.1).

Messages on `/qroc/chunks/1` (each framed like sync: 4-byte length, then CBOR):

    request  = {0: 1, 1: manifest id}      HAVE: which chunks of this item do you hold?
             | {0: 2, 1: chunk hash}       GET: send me this chunk
    response = {0: bitmap}                 to HAVE: bit i set = chunk i held (bit i is
                                           (bitmap[i // 8] >> (i % 8)) & 1)
             | {1: frame}                  to GET: the chunk frame (protocol/media.py)
             | {2: code}                   1 = not held, 2 = unknown manifest

The planner decides which chunk to ask of which peer, in this order of priority:
higher-severity incidents first, then smaller items, then older manifests; within an
item, a chunk not held and not in flight, the rarest among the peers we know of, our
"home" chunks first (so that several nodes fetching one item hold different chunks and
swarm; see FetchPlanner). A peer is asked only for chunks it is
known to hold (the manifest's author holds all); a peer that served a bad chunk is left
alone for bad_peer_penalty_ms. It never reads a clock: `now_ms` comes in.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import cbor, limits
from .body import Media
from .entry import Entry
from .errors import InvalidField, Malformed, TooLarge
from .identity import hash32
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


def _frame_payload(data: bytes) -> bytes | None:
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
    return data[start:] if len(data) - start == length else None


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
        return 2, fields.uint(2)
    value = fields.raw(key)
    if type(value) is not bytes:
        raise Malformed("chunk response payload must be bytes")
    return key, value


def bit(bitmap: bytes, index: int) -> bool:
    return index // 8 < len(bitmap) and bool(bitmap[index // 8] >> (index % 8) & 1)


@dataclass
class Item:
    manifest_id: bytes
    author: bytes
    author_peer: str | None  # the author holds every chunk
    media: Media
    priority: tuple[int, int, int]  # smaller first: (-severity, size, hlc)
    order: list[int]  # the order in which we fetch this item's chunks
    haves: dict[str, tuple[bytes, int]] = field(default_factory=dict)  # peer -> (bitmap, when)
    in_flight: dict[int, tuple[str, int]] = field(default_factory=dict)  # index -> (peer, since)


class FetchPlanner:
    """What to fetch next from whom. `held(hash)` says which chunks we already store;
    `author_peer(public key)` maps a manifest's author to its peer id; `me` is our own
    peer id and `members()` every member's.

    The order in which we fetch an item's chunks: first our "home" chunks, then the rest,
    each part shuffled by our own id. Every chunk has one home among the members other
    than the author, the same at every node (a hash of the manifest id and the index), so
    the receivers ask the author for disjoint sets of chunks and can then serve each
    other; the rest is the fallback for members that are away or fetch on demand only."""

    def __init__(
        self,
        held: Callable[[bytes], bool],
        author_peer: Callable[[bytes], str | None],
        me: str,
        members: Callable[[], list[str]],
    ) -> None:
        self.held = held
        self.author_peer = author_peer
        self.me = me
        self.members = members
        self.items: dict[bytes, Item] = {}
        self.bad_until: dict[str, int] = {}

    def want(self, manifest: Entry, severity: int) -> bool:
        """Start fetching a media item; False if the fetch set is full (retry later)."""
        media = manifest.body
        assert isinstance(media, Media)
        if manifest.id in self.items or self.complete(manifest.id, media):
            return True
        if len(self.items) >= limits.fetches_max:
            return False
        author_peer = self.author_peer(manifest.author)
        receivers = sorted(p for p in self.members() if p != author_peer)
        me = self.me.encode()

        def place(index: int) -> tuple[bool, bytes]:
            shared = hash32(manifest.id + index.to_bytes(4, "big"))
            home = receivers[int.from_bytes(shared[:4], "big") % len(receivers)] if receivers else None
            return home != self.me, hash32(me + shared)

        order = sorted(range(len(media.chunks)), key=place)
        priority = (-severity, media.size, manifest.hlc)
        self.items[manifest.id] = Item(manifest.id, manifest.author, author_peer, media, priority, order)
        return True

    def complete(self, manifest_id: bytes, media: Media) -> bool:
        return all(self.held(h) for h in media.chunks)

    def held_count(self, media: Media) -> int:
        return sum(1 for h in media.chunks if self.held(h))

    def on_have(self, peer: str, manifest_id: bytes, bitmap: bytes, now_ms: int) -> None:
        item = self.items.get(manifest_id)
        if item is not None:
            item.haves[peer] = (bitmap, now_ms)

    def _peer_has(self, item: Item, peer: str, index: int) -> bool:
        if item.author_peer == peer:
            return True
        have = item.haves.get(peer)
        return have is not None and bit(have[0], index)

    def next_request(self, peer: str, now_ms: int) -> tuple[int, bytes] | None:
        """The next request for `peer`: (OP_GET, chunk hash) or (OP_HAVE, manifest id)."""
        if self.bad_until.get(peer, 0) > now_ms:
            return None
        for item in sorted(self.items.values(), key=lambda i: i.priority):
            self._expire(item, now_ms)
            have = item.haves.get(peer)
            if item.author_peer != peer and (have is None or now_ms - have[1] >= limits.have_refresh_ms):
                # Asked even while the peer still has chunks for us: fresh bitmaps of every
                # peer are what let rarest-first spare the author's upload.
                item.haves[peer] = (b"" if have is None else have[0], now_ms)  # one ask at a time
                return OP_HAVE, item.manifest_id
            index = self._rarest(item, peer, now_ms)
            if index is not None:
                item.in_flight[index] = (peer, now_ms)
                return OP_GET, item.media.chunks[index]
        return None

    def _rarest(self, item: Item, peer: str, now_ms: int) -> int | None:
        """The chunk to ask `peer` for: one it holds that we lack and have not asked for,
        held by the fewest other live peers (rarest first, as in BitTorrent), the earliest
        in our order among equals. The author is asked only for chunks no live peer
        holds: its upload is what every other node waits on, so it should send each chunk
        about once and leave the rest to the receivers. A peer is live while its bitmap is
        fresh, it is not penalised and it answers our requests promptly (a peer on a thin
        link is not, and then the author serves what only that peer holds)."""
        others = [have for p, (have, _) in item.haves.items() if p != peer and self._live(item, p, now_ms)]
        best, best_count = None, len(others) + 1
        for index in item.order:
            if index in item.in_flight or not self._peer_has(item, peer, index):
                continue
            if self.held(item.media.chunks[index]):
                continue
            count = sum(1 for have in others if bit(have, index))
            if count < best_count:
                best, best_count = index, count
                if count == 0:
                    break
        return None if peer == item.author_peer and best_count > 0 else best

    def _live(self, item: Item, peer: str, now_ms: int) -> bool:
        if now_ms - item.haves[peer][1] > limits.have_stale_ms or self.bad_until.get(peer, 0) > now_ms:
            return False
        return all(now_ms - since <= limits.chunk_slow_ms for p, since in item.in_flight.values() if p == peer)

    def _expire(self, item: Item, now_ms: int) -> None:
        for index, (_, since) in list(item.in_flight.items()):
            if now_ms - since > limits.chunk_request_timeout_ms:
                del item.in_flight[index]

    def done(self, peer: str, chunk_hash: bytes, outcome: str, now_ms: int) -> list[bytes]:
        """A GET to `peer` ended: outcome "ok" (stored), "missing" (the peer no longer
        has it: ask it what it holds again) or "bad" (wrong bytes: leave the peer alone for
        a while). Returns the manifest ids this completed."""
        assert outcome in ("ok", "missing", "bad")
        if outcome == "bad":
            self.bad_until[peer] = now_ms + limits.bad_peer_penalty_ms
        finished = []
        for manifest_id, item in list(self.items.items()):
            for index, h in enumerate(item.media.chunks):
                if h == chunk_hash and item.in_flight.get(index, (None,))[0] == peer:
                    del item.in_flight[index]
                    if outcome == "missing":
                        item.haves.pop(peer, None)
            if self.complete(manifest_id, item.media):
                del self.items[manifest_id]
                finished.append(manifest_id)
        return finished

    def failed(self, peer: str) -> None:
        """The peer went away: release what was in flight to it."""
        for item in self.items.values():
            for index in [i for i, (p, _) in item.in_flight.items() if p == peer]:
                del item.in_flight[index]
            item.haves.pop(peer, None)

    def locate(self, chunk_hash: bytes) -> tuple[Item, int] | None:
        for item in self.items.values():
            for index, h in enumerate(item.media.chunks):
                if h == chunk_hash:
                    return item, index
        return None
