"""The fetch planner: which media chunk to ask of which peer next (SPEC.md §6.1).

Rules, in order:
- Items: higher-severity incidents first, then smaller items, then older manifests (a
  photo posted after a video finishes first).
- A peer is asked only for chunks it is known to hold: the manifest's author holds all;
  any other peer, what its latest HAVE bitmap shows. A fresh bitmap is asked for every
  have_refresh_ms, even while the peer still has chunks for us, because the choices
  below are only as good as what we know.
- Rarest first, in two levels: a chunk no other live peer holds before one that others
  hold too. The author is asked only for chunks no other live peer holds: its upload is
  what every node waits on, so it should send each chunk about once and leave the rest
  to the receivers (a peer is live while its bitmap is fresh, it is not penalised, and it
  answers our requests within chunk_slow_ms; so on a thin link it is not).
- Among equals, our "home" chunks first. Every chunk has one home among the members other
  than the author, the same at every node (a hash of the manifest id and the index), so
  the receivers ask the author for disjoint sets of chunks, then trade. The rest is the
  fallback for members that are away or fetch on demand only; each node walks it from a
  starting point of its own.
- A peer that served a bad chunk is left alone for bad_peer_penalty_ms; a request open
  longer than chunk_request_timeout_ms is given up and may go to someone else.

Chunk sets are Python ints used as bitmasks (bit i = chunk i), so that a choice costs a
few big-integer operations, not a walk over the chunks: an item may have
media_chunks_max of them, and every worker asks the planner after every chunk.
It never reads a clock: `now_ms` comes in.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from . import limits
from .body import Media
from .entry import Entry
from .identity import hash32
from .transfer import OP_GET, OP_HAVE


def bitmap_mask(bitmap: bytes) -> int:
    """A HAVE bitmap (bit i = (bitmap[i // 8] >> (i % 8)) & 1) as a mask."""
    return int.from_bytes(bitmap, "little")


def _first_from(mask: int, start: int) -> int:
    """The lowest set bit of `mask` at or above `start`, else the lowest; mask != 0."""
    high = mask >> start
    if high:
        return start + (high & -high).bit_length() - 1
    return (mask & -mask).bit_length() - 1


@dataclass
class Item:
    manifest_id: bytes
    author_peer: str | None  # the author holds every chunk
    media: Media
    priority: tuple[int, int, int]  # smaller first: (-severity, size, hlc)
    home: int  # our home chunks
    start: int  # where our walk through the rest begins
    missing: int  # chunks we lack
    index_of: dict[bytes, list[int]]  # a hash may stand at several indices
    haves: dict[str, tuple[int, int]] = field(default_factory=dict)  # peer -> (mask, when asked)
    in_flight: dict[int, tuple[str, int]] = field(default_factory=dict)  # index -> (peer, since)
    in_flight_mask: int = 0

    def release(self, index: int) -> None:
        del self.in_flight[index]
        self.in_flight_mask &= ~(1 << index)


class FetchPlanner:
    """`held(hash)` says which chunks we already store; `author_peer(public key)` maps a
    manifest's author to its peer id; `me` is our own peer id and `members()` every
    member's."""

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
        if manifest.id in self.items or self.complete(media):
            return True
        if len(self.items) >= limits.fetches_max:
            return False
        author_peer = self.author_peer(manifest.author)
        receivers = sorted(p for p in self.members() if p != author_peer)
        home = 0
        index_of: dict[bytes, list[int]] = {}
        for index, chunk_hash in enumerate(media.chunks):
            index_of.setdefault(chunk_hash, []).append(index)
            shared = hash32(manifest.id + index.to_bytes(4, "big"))
            if receivers and receivers[int.from_bytes(shared[:4], "big") % len(receivers)] == self.me:
                home |= 1 << index
        start = int.from_bytes(hash32(self.me.encode() + manifest.id)[:4], "big") % len(media.chunks)
        priority = (-severity, media.size, manifest.hlc)
        missing = self._missing(media)
        self.items[manifest.id] = Item(manifest.id, author_peer, media, priority, home, start, missing, index_of)
        return True

    def complete(self, media: Media) -> bool:
        return all(self.held(h) for h in media.chunks)

    def _missing(self, media: Media) -> int:
        return sum(1 << i for i, h in enumerate(media.chunks) if not self.held(h))

    def on_have(self, peer: str, manifest_id: bytes, bitmap: bytes, now_ms: int) -> None:
        item = self.items.get(manifest_id)
        if item is not None:
            item.haves[peer] = (bitmap_mask(bitmap) & ((1 << len(item.media.chunks)) - 1), now_ms)

    def next_request(self, peer: str, now_ms: int) -> tuple[int, bytes] | None:
        """The next request for `peer`: (OP_GET, chunk hash) or (OP_HAVE, manifest id)."""
        if self.bad_until.get(peer, 0) > now_ms:
            return None
        for item in sorted(self.items.values(), key=lambda i: i.priority):
            self._expire(item, now_ms)
            have = item.haves.get(peer)
            if item.author_peer != peer and (have is None or now_ms - have[1] >= limits.have_refresh_ms):
                item.haves[peer] = (0 if have is None else have[0], now_ms)  # one ask at a time
                return OP_HAVE, item.manifest_id
            index = self._choose(item, peer, now_ms)
            if index is not None:
                item.in_flight[index] = (peer, now_ms)
                item.in_flight_mask |= 1 << index
                return OP_GET, item.media.chunks[index]
        return None

    def _choose(self, item: Item, peer: str, now_ms: int) -> int | None:
        author = peer == item.author_peer
        has = (1 << len(item.media.chunks)) - 1 if author else item.haves[peer][0]
        others = 0
        for p, (mask, _) in item.haves.items():
            if p != peer and self._live(item, p, now_ms):
                others |= mask
        while candidates := has & item.missing & ~item.in_flight_mask:
            pool = candidates & ~others or (0 if author else candidates)
            if not pool:
                return None
            mine = pool & item.home
            index = _first_from(mine, 0) if mine else _first_from(pool, item.start)
            if not self.held(item.media.chunks[index]):
                return index
            item.missing &= ~(1 << index)  # stored by another way (the same bytes uploaded here)
        return None

    def _live(self, item: Item, peer: str, now_ms: int) -> bool:
        if now_ms - item.haves[peer][1] > limits.have_stale_ms or self.bad_until.get(peer, 0) > now_ms:
            return False
        return all(now_ms - since <= limits.chunk_slow_ms for p, since in item.in_flight.values() if p == peer)

    def _expire(self, item: Item, now_ms: int) -> None:
        for index, (_, since) in list(item.in_flight.items()):
            if now_ms - since > limits.chunk_request_timeout_ms:
                item.release(index)

    def done(self, peer: str, chunk_hash: bytes, outcome: str, now_ms: int) -> list[bytes]:
        """A GET to `peer` ended: outcome "ok" (stored), "missing" (the peer no longer
        has it: ask it what it holds again) or "bad" (wrong bytes: leave the peer alone for
        a while). Returns the manifest ids this completed."""
        assert outcome in ("ok", "missing", "bad")
        if outcome == "bad":
            self.bad_until[peer] = now_ms + limits.bad_peer_penalty_ms
        finished = []
        for manifest_id, item in list(self.items.items()):
            for index in item.index_of.get(chunk_hash, ()):
                if item.in_flight.get(index, (None,))[0] == peer:
                    item.release(index)
                    if outcome == "missing":
                        item.haves.pop(peer, None)
                if outcome == "ok":
                    item.missing &= ~(1 << index)
            if not item.missing:
                if self.complete(item.media):
                    del self.items[manifest_id]
                    finished.append(manifest_id)
                else:  # a stored chunk went away (disk trouble): fetch it again
                    item.missing = self._missing(item.media)
        return finished

    def failed(self, peer: str) -> None:
        """The peer went away: release what was in flight to it."""
        for item in self.items.values():
            for index in [i for i, (p, _) in item.in_flight.items() if p == peer]:
                item.release(index)
            item.haves.pop(peer, None)

    def locate(self, chunk_hash: bytes) -> tuple[Item, int] | None:
        """The item and index a chunk we fetch belongs to."""
        for item in self.items.values():
            indices = item.index_of.get(chunk_hash)
            if indices:
                return item, indices[0]
        return None
