"""The fetch planner: which media chunk to ask of which peer next (SPEC.md §6.1).

Rules, in order:
- Fetch work is shared out per manifest author. At most limits.fetches_active_per_author_max of
  one author's items are active (planned chunk by chunk), listing at most
  limits.fetch_active_chunks_per_author_max chunk hashes between them; its other items wait as
  compact records (priority, seq, id), at most limits.fetches_waiting_per_author_max of them.
  Further ones are turned away and stay in the caller's store: `resume` names the author
  and the seq of the first one turned away once its queue has room again, and the caller
  offers that author's log from there (`want(..., displace=False)`). A member that
  announces thousands of manifests fills only its own slots and queue.
- Items: higher-severity incidents first. Among one author's items smaller ones first,
  then older ones: a new item more urgent than the author's least urgent active one takes
  its place (a photo posted after a video finishes first), and the displaced item waits
  again with the chunks it already has; a new waiting record more urgent than the least
  urgent of a full queue takes its place. Between authors at equal severity, turns: the
  author whose item was last given a chunk request goes to the back of the line.
- A peer is asked only for chunks it is known to hold: the manifest's author holds all
  until it answers that it does not (then it is asked what it holds like anyone else);
  any other peer, what its latest HAVE bitmap shows. A fresh bitmap is asked for every
  have_refresh_ms, even while the peer still has chunks for us, because the choices below
  are only as good as what we know. A peer that answers "not held" is asked for nothing
  more of that item until its next HAVE: a lying or broken peer costs one request per
  item per have_refresh_ms, not one per round trip.
- Rarest first, in two levels: a chunk no other live peer holds before one that others
  hold too. The author is asked only for chunks no other live peer holds: its upload is
  what every node waits on, so it should send each chunk about once and leave the rest
  to the receivers (a peer is live while its bitmap is fresh, it is not penalised, and it
  answers our requests within chunk_slow_ms; so on a thin link it is not).
- Among equals, our "home" chunks first. Every chunk has one home among the members other
  than the author, the same at every node (a hash of the manifest id and the index), so
  the receivers ask the author for disjoint sets of chunks, then trade. Of the author we
  ask for another member's home chunk only while that member is not getting its own:
  not live, or its bitmap has not grown for home_stall_ms (it is away, fetches on demand
  only, or its link is thin). Otherwise the chunk, already on its way from the author to
  its home, would cross the author's upload twice — the one every receiver waits on (with
  100 Mbit/s uploads a sixth of the author's bytes went to such duplicates). Each node
  walks the rest from a starting point of its own.
- A peer that served a bad chunk is left alone for bad_peer_penalty_ms; a request open
  longer than chunk_request_timeout_ms is given up and may go to someone else.

Memory is bounded by the roster, whatever members announce: per author at most
limits.fetch_active_chunks_per_author_max chunk hashes in active items (~70 bytes each decoded,
4 in the item's sorted index, 1/8 per peer bitmap) and limits.fetches_waiting_per_author_max
records (~0.3 KB each): about 0.5 MiB per author at the worst, for at most
roster_members_max authors (entries come only from members).

Chunk sets are Python ints used as bitmasks (bit i = chunk i), so that a choice costs a
few big-integer operations, not a walk over the chunks: an item may have
media_chunks_max of them, and every worker asks the planner after every chunk.
It never reads a clock: `now_ms` comes in.
"""

import heapq
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from . import limits
from .body import Media
from .entry import Entry
from .identity import hash32
from .transfer import OP_GET, OP_HAVE

Priority = tuple[int, int, int]  # smaller first: (-severity, size, hlc)
Load = Callable[[bytes], tuple[Entry, int] | None]  # manifest id -> (manifest, severity)


class Waiting(NamedTuple):
    """An item waiting for one of its author's slots: what it takes to order it and find it again."""

    priority: Priority
    seq: int
    chunks: int
    manifest_id: bytes


@dataclass
class _Author:
    active: int = 0  # items
    chunks: int = 0  # chunk hashes those items list
    waiting: list[Waiting] = field(default_factory=list)  # a heap: most urgent first
    turn: int = 0  # when one of its items last got a chunk request
    behind: int | None = None  # the lowest seq turned away: its log is offered again from there

    def turned_away(self, seq: int) -> None:
        self.behind = seq if self.behind is None else min(self.behind, seq)


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
    author: bytes  # the manifest author's public key: whose slot this is
    seq: int
    author_peer: str | None  # the author holds every chunk ...
    media: Media
    priority: Priority
    home: int  # our home chunks
    homes: dict[str, int]  # every other receiver's home chunks
    start: int  # where our walk through the rest begins
    missing: int  # chunks we lack
    order: array  # chunk indices sorted by hash: a hash may stand at several indices
    author_holds_all: bool = True  # ... until it says otherwise
    haves: dict[str, tuple[int, int]] = field(default_factory=dict)  # peer -> (mask, when asked)
    grew: dict[str, int] = field(default_factory=dict)  # peer -> when its bitmap last gained a chunk
    in_flight: dict[int, tuple[str, int]] = field(default_factory=dict)  # index -> (peer, since)
    in_flight_mask: int = 0

    def release(self, index: int) -> None:
        del self.in_flight[index]
        self.in_flight_mask &= ~(1 << index)

    def indices(self, chunk_hash: bytes) -> list[int]:
        """Where `chunk_hash` stands in the file (a binary search: no dict over 4096 hashes)."""
        key = self.media.chunks.__getitem__
        low = bisect_left(self.order, chunk_hash, key=key)
        high = bisect_right(self.order, chunk_hash, lo=low, key=key)
        return [self.order[p] for p in range(low, high)]

    def record(self) -> Waiting:
        return Waiting(self.priority, self.seq, len(self.media.chunks), self.manifest_id)


class FetchPlanner:
    """`held(hash)` says which chunks we already store; `author_peer(public key)` maps a
    manifest's author to its peer id; `me` is our own peer id and `members()` every
    member's; `load(manifest id)` gives a waiting item's manifest back with its incident's
    severity now (None if it is gone)."""

    def __init__(
        self,
        held: Callable[[bytes], bool],
        author_peer: Callable[[bytes], str | None],
        me: str,
        members: Callable[[], list[str]],
        load: Load,
    ) -> None:
        self.held = held
        self.author_peer = author_peer
        self.me = me
        self.members = members
        self.load = load
        self.items: dict[bytes, Item] = {}  # the active items
        self.authors: dict[bytes, _Author] = {}
        self._waiting_ids: set[bytes] = set()
        self._completed: list[bytes] = []  # finished since done() last reported
        self._turns = 0
        self.bad_until: dict[str, int] = {}

    # --- which items ---

    def want(self, manifest: Entry, severity: int, displace: bool = True) -> bool:
        """Fetch a media item; False if it was turned away (its author's queue is full):
        `resume` names the author again once there is room. `displace=False` when offering
        an author's log again, so that the offer stops at the first item turned away."""
        media = manifest.body
        assert isinstance(media, Media)
        if self.knows(manifest.id) or self.complete(media):
            return True
        author = self.authors.setdefault(manifest.author, _Author())
        record = Waiting((-severity, media.size, manifest.hlc), manifest.seq, len(media.chunks), manifest.id)
        if not self._queue(author, record, displace):
            return False
        self._admit(manifest.author, (manifest, severity))
        return True

    def knows(self, manifest_id: bytes) -> bool:
        """Active or waiting: offering it again changes nothing."""
        return manifest_id in self.items or manifest_id in self._waiting_ids

    def resume(self) -> list[tuple[bytes, int]]:
        """(author, seq): offer this author's manifests from seq on again, in log order."""
        ready = []
        for key, author in self.authors.items():
            if author.behind is not None and len(author.waiting) <= limits.fetches_waiting_per_author_max // 2:
                ready.append((key, author.behind))
                author.behind = None
        return ready

    def complete(self, media: Media) -> bool:
        return all(self.held(h) for h in media.chunks)

    def _missing(self, media: Media) -> int:
        return sum(1 << i for i, h in enumerate(media.chunks) if not self.held(h))

    def _queue(self, author: _Author, record: Waiting, displace: bool) -> bool:
        if len(author.waiting) >= limits.fetches_waiting_per_author_max:
            worst = max(author.waiting)
            if not displace or record >= worst:
                author.turned_away(record.seq)
                return False
            author.waiting.remove(worst)
            heapq.heapify(author.waiting)
            self._waiting_ids.discard(worst.manifest_id)
            author.turned_away(worst.seq)
        heapq.heappush(author.waiting, record)
        self._waiting_ids.add(record.manifest_id)
        return True

    def _admit(self, key: bytes, fresh: tuple[Entry, int] | None = None) -> None:
        """Activate the author's most urgent waiting items while they fit."""
        author = self.authors[key]
        while author.waiting and self._make_room(key, author, author.waiting[0]):
            record = heapq.heappop(author.waiting)
            self._waiting_ids.discard(record.manifest_id)
            loaded = fresh if fresh is not None and fresh[0].id == record.manifest_id else self.load(record.manifest_id)
            if loaded is not None:
                self._activate(author, *loaded)

    def _make_room(self, key: bytes, author: _Author, record: Waiting) -> bool:
        """Whether `record` fits among its author's active items, once less urgent ones
        are sent back to wait."""
        while (
            author.active >= limits.fetches_active_per_author_max
            or author.chunks + record.chunks > limits.fetch_active_chunks_per_author_max
        ):
            least = max((i for i in self.items.values() if i.author == key), key=lambda i: i.priority, default=None)
            if least is None or least.priority <= record.priority:
                return False
            self._retire(least)
            self._queue(author, least.record(), displace=True)
        return True

    def _activate(self, author: _Author, manifest: Entry, severity: int) -> None:
        media = manifest.body
        assert isinstance(media, Media)
        missing = self._missing(media)
        if not missing:
            return
        author_peer = self.author_peer(manifest.author)
        receivers = sorted(p for p in self.members() if p != author_peer)
        homes = dict.fromkeys(receivers, 0)
        for index in range(len(media.chunks)):
            shared = hash32(manifest.id + index.to_bytes(4, "big"))
            if receivers:
                homes[receivers[int.from_bytes(shared[:4], "big") % len(receivers)]] |= 1 << index
        home = homes.pop(self.me, 0)
        start = int.from_bytes(hash32(self.me.encode() + manifest.id)[:4], "big") % len(media.chunks)
        order = array("I", sorted(range(len(media.chunks)), key=media.chunks.__getitem__))
        priority = (-severity, media.size, manifest.hlc)
        self.items[manifest.id] = Item(
            manifest.id, manifest.author, manifest.seq, author_peer, media, priority, home, homes, start, missing, order
        )
        author.active += 1
        author.chunks += len(media.chunks)

    def _retire(self, item: Item) -> None:
        """Take an item out of the active set (finished, or sent back to wait)."""
        del self.items[item.manifest_id]
        author = self.authors[item.author]
        author.active -= 1
        author.chunks -= len(item.media.chunks)

    def _settle(self, item: Item) -> None:
        """An item with no chunk left to fetch: finished, unless a stored chunk went away
        (disk trouble), which is fetched again."""
        if not self.complete(item.media):
            item.missing = self._missing(item.media)
            return
        self._retire(item)
        self._completed.append(item.manifest_id)
        self._admit(item.author)

    # --- which chunk of whom ---

    def on_have(self, peer: str, manifest_id: bytes, bitmap: bytes, now_ms: int) -> None:
        item = self.items.get(manifest_id)
        if item is not None:
            mask = bitmap_mask(bitmap) & ((1 << len(item.media.chunks)) - 1)
            before = item.haves.get(peer, (0, 0))[0]
            if mask & ~before or peer not in item.grew:  # or the first bitmap starts its clock
                item.grew[peer] = now_ms
            item.haves[peer] = (mask, now_ms)

    def _urgency(self, item: Item) -> tuple[int, int, int, int]:
        severity, size, hlc = item.priority
        return severity, self.authors[item.author].turn, size, hlc

    def next_request(self, peer: str, now_ms: int) -> tuple[int, bytes] | None:
        """The next request for `peer`: (OP_GET, chunk hash) or (OP_HAVE, manifest id)."""
        if self.bad_until.get(peer, 0) > now_ms:
            return None
        for item in sorted(self.items.values(), key=self._urgency):
            if item.manifest_id not in self.items:
                continue  # sent back to wait by an item admitted in this loop
            self._expire(item, now_ms)
            have = item.haves.get(peer)
            if not self._holds_all(item, peer) and (have is None or now_ms - have[1] >= limits.have_refresh_ms):
                item.haves[peer] = (0 if have is None else have[0], now_ms)  # one ask at a time
                item.grew.setdefault(peer, now_ms)  # the first ask starts its clock
                return OP_HAVE, item.manifest_id
            index = self._choose(item, peer, now_ms)
            if index is not None:
                item.in_flight[index] = (peer, now_ms)
                item.in_flight_mask |= 1 << index
                self._turns += 1
                self.authors[item.author].turn = self._turns
                return OP_GET, item.media.chunks[index]
            if not item.missing:  # the last chunks were stored by another way
                self._settle(item)
        return None

    def _holds_all(self, item: Item, peer: str) -> bool:
        return peer == item.author_peer and item.author_holds_all

    def _choose(self, item: Item, peer: str, now_ms: int) -> int | None:
        author = peer == item.author_peer
        has = (1 << len(item.media.chunks)) - 1 if self._holds_all(item, peer) else item.haves[peer][0]
        others = 0
        for p, (mask, _) in item.haves.items():
            if p == peer or not self._live(item, p, now_ms):
                continue
            others |= mask
            if author and now_ms - item.grew.get(p, now_ms) <= limits.home_stall_ms:  # p is getting its own:
                others |= item.homes.get(p, 0)  # they are on their way to it, and come to us from there
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
        """A GET to `peer` ended: outcome "ok" (stored), "missing" (the peer does not have
        it: ask it what it holds again) or "bad" (wrong bytes: leave the peer alone for a
        while). Returns the manifest ids finished since the last call."""
        assert outcome in ("ok", "missing", "bad")
        if outcome == "bad":
            self.bad_until[peer] = now_ms + limits.bad_peer_penalty_ms
        for item in list(self.items.values()):
            for index in item.indices(chunk_hash):
                if item.in_flight.get(index, (None,))[0] == peer:
                    item.release(index)
                    if outcome == "missing":
                        self._distrust(item, peer, now_ms)
                if outcome == "ok":
                    item.missing &= ~(1 << index)
            if not item.missing and item.manifest_id in self.items:
                self._settle(item)
        finished, self._completed = self._completed, []
        return finished

    def _distrust(self, item: Item, peer: str, now_ms: int) -> None:
        """Nothing more of `item` from `peer` until its next HAVE (when the last one is due)."""
        if peer == item.author_peer:
            item.author_holds_all = False
        item.haves[peer] = (0, item.haves.get(peer, (0, now_ms))[1])

    def failed(self, peer: str) -> None:
        """The peer went away: release what was in flight to it."""
        for item in self.items.values():
            for index in [i for i, (p, _) in item.in_flight.items() if p == peer]:
                item.release(index)
            item.haves.pop(peer, None)

    def locate(self, chunk_hash: bytes) -> tuple[Item, int] | None:
        """An active item and index a chunk we fetch belongs to."""
        for item in self.items.values():
            indices = item.indices(chunk_hash)
            if indices:
                return item, indices[0]
        return None
