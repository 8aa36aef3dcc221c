"""Per-author log bookkeeping: heads, gaps, hash-chain checks and fork verdicts.

Rules:
- Each author's canonical log is the longest chain seq 1, 2, … in which every entry's
  `prev` is the id of the one before. Only canonical entries are folded into state.
- An entry that arrives before its predecessor waits in a bounded pending set; it joins
  when the gap is filled (by sync) and the chain check passes.
- A fork is proven by two entries of one author that cannot both be in one chain: the
  same seq with different ids, or seq s+1 whose prev is not the id of seq s. The proof's
  fork seq is the lowest seq at which the two chains differ that the proof shows.
- The verdict on a forked author is: entries from the fork seq on are excluded. Every
  node keeps the lowest proven fork seq, proofs travel with sync, and a node that sees two
  chains differ below what is proven asks for the other chain's entry there (`wants`), so
  all nodes converge on the first divergence, whatever the arrival order.
- The log holds ids only; entry bytes live in the node's store (or the simulator's map).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from . import limits
from .entry import Entry
from .errors import IdentityForked, InvalidField
from .hlc import check_skew


class Status(Enum):
    APPENDED = "appended"
    DUPLICATE = "duplicate"
    PENDING = "pending"
    PENDING_FULL = "pending_full"
    EXCLUDED = "excluded"  # at or past its author's fork seq
    FORK = "fork"


@dataclass(frozen=True, slots=True)
class ForkProof:
    first: Entry
    second: Entry

    @property
    def author(self) -> bytes:
        return self.first.author

    @property
    def seq(self) -> int:
        """The seq at which the two chains are shown to differ."""
        return min(self.first.seq, self.second.seq)

    @classmethod
    def of(cls, a: Entry, b: Entry) -> "ForkProof":
        """Validate and normalise (lower seq first, then lower id); InvalidField if no proof."""
        a, b = sorted((a, b), key=lambda e: (e.seq, e.id))
        same_seq = a.seq == b.seq and a.id != b.id
        broken_link = b.seq == a.seq + 1 and b.prev != a.id
        if a.author != b.author or not (same_seq or broken_link):
            raise InvalidField("the two entries do not prove a fork")
        return cls(a, b)


@dataclass(slots=True)
class Added:
    """What `Log.add` did with one entry, for the caller to persist and fold."""

    status: Status
    appended: list[Entry] = field(default_factory=list)  # joined the canonical log, in order
    evidence: list[Entry] = field(default_factory=list)  # keep (proof material), do not fold
    proof: "ForkProof | None" = None  # set when this entry lowered its author's fork seq


@dataclass(slots=True)
class _AuthorLog:
    ids: list[bytes] = field(default_factory=list)  # ids[i] is the id at seq i+1
    pending: dict[int, Entry] = field(default_factory=dict)
    proof: ForkProof | None = None

    @property
    def canonical_seq(self) -> int:
        return len(self.ids) if self.proof is None else min(len(self.ids), self.proof.seq - 1)


Lookup = Callable[[bytes, int], Entry]


class Log:
    """`lookup(author, seq)` returns our chain's entry at that seq (from the caller's store):
    the log holds ids only and needs the entry itself only to build a fork proof."""

    def __init__(self, lookup: Lookup) -> None:
        self._lookup = lookup
        self._authors: dict[bytes, _AuthorLog] = {}
        self._pending_total = 0
        self.wants: set[bytes] = set()  # ids of other-chain entries we ask peers for

    def _author(self, author: bytes) -> _AuthorLog:
        return self._authors.setdefault(author, _AuthorLog())

    def heads(self) -> dict[bytes, tuple[int, bytes]]:
        """The version vector: for each author, its highest canonical seq and that entry's id."""
        return {
            a: (log.canonical_seq, log.ids[log.canonical_seq - 1])
            for a, log in self._authors.items()
            if log.canonical_seq
        }

    def head(self, author: bytes) -> tuple[int, bytes | None]:
        log = self._authors.get(author)
        if log is None or not log.canonical_seq:
            return 0, None
        return log.canonical_seq, log.ids[log.canonical_seq - 1]

    def id_at(self, author: bytes, seq: int) -> bytes | None:
        log = self._authors.get(author)
        return log.ids[seq - 1] if log is not None and 0 < seq <= len(log.ids) else None

    def is_canonical(self, entry: Entry) -> bool:
        log = self._authors.get(entry.author)
        return log is not None and entry.seq <= log.canonical_seq and log.ids[entry.seq - 1] == entry.id

    def proofs(self) -> list[ForkProof]:
        return [log.proof for _, log in sorted(self._authors.items()) if log.proof is not None]

    def fork_seq(self, author: bytes) -> int | None:
        log = self._authors.get(author)
        return None if log is None or log.proof is None else log.proof.seq

    def pending_count(self) -> int:
        return self._pending_total

    def next_seq(self, author: bytes) -> tuple[int, bytes | None]:
        """Seq and prev for a new entry of `author` (our own log)."""
        log = self._author(author)
        if log.proof is not None:
            raise IdentityForked(f"our own log forked at seq {log.proof.seq}")
        return len(log.ids) + 1, (log.ids[-1] if log.ids else None)

    def add_proof(self, proof: ForkProof) -> int | None:
        """Record a fork proof; returns the new fork seq if it lowered the verdict."""
        log = self._author(proof.author)
        for entry in (proof.first, proof.second):
            self._want_other_chain(log, entry)
        if log.proof is not None and log.proof.seq <= proof.seq:
            return None
        log.proof = proof
        for seq in [s for s in log.pending if s >= proof.seq]:
            del log.pending[seq]
            self._pending_total -= 1
        return proof.seq

    def _want_other_chain(self, log: _AuthorLog, entry: Entry) -> None:
        """If `entry`'s predecessor is not ours, the chains differ lower down: ask for it."""
        below = entry.seq - 1
        if entry.prev is not None and below <= len(log.ids) and log.ids[below - 1] != entry.prev:
            self.wants.add(entry.prev)

    def add(self, entry: Entry, now_ms: int) -> Added:
        """Take in a verified entry. Raises ClockSkew if it is too far in the future."""
        check_skew(entry.hlc, now_ms)
        self.wants.discard(entry.id)
        log = self._author(entry.author)
        if log.proof is not None and entry.seq >= log.proof.seq:
            return Added(Status.EXCLUDED)
        if entry.seq <= len(log.ids):
            if log.ids[entry.seq - 1] == entry.id:
                return Added(Status.DUPLICATE)
            return self._fork(self._lookup(entry.author, entry.seq), entry)
        if entry.seq > len(log.ids) + 1:
            return self._park(log, entry)
        if log.ids and entry.prev != log.ids[-1]:
            return self._fork(self._lookup(entry.author, len(log.ids)), entry)
        added = Added(Status.APPENDED)
        while True:
            log.ids.append(entry.id)
            added.appended.append(entry)
            following = log.pending.pop(len(log.ids) + 1, None)
            if following is None:
                return added
            self._pending_total -= 1
            if following.prev != entry.id:
                # A parked entry that does not link proves a fork; the evidence is kept.
                fork = self._fork(entry, following)
                added.evidence, added.proof = fork.evidence, fork.proof
                return added
            entry = following

    def _park(self, log: _AuthorLog, entry: Entry) -> Added:
        if entry.seq in log.pending:
            return Added(Status.DUPLICATE if log.pending[entry.seq].id == entry.id else Status.PENDING)
        if (
            self._pending_total >= limits.pending_entries_max
            or len(log.pending) >= limits.pending_entries_per_author_max
        ):
            return Added(Status.PENDING_FULL)
        log.pending[entry.seq] = entry
        self._pending_total += 1
        return Added(Status.PENDING)

    def _fork(self, ours: Entry, theirs: Entry) -> Added:
        """`theirs` conflicts with `ours`, an entry of our chain: prove the fork."""
        proof = ForkProof.of(ours, theirs)
        lowered = self.add_proof(proof) is not None
        return Added(Status.FORK, evidence=[theirs], proof=proof if lowered else None)

    def restore(self, entry: Entry) -> None:
        """Re-add a canonical entry read back from our own store at start-up (in seq order)."""
        log = self._author(entry.author)
        if entry.seq != len(log.ids) + 1 or (log.ids and entry.prev != log.ids[-1]):
            raise InvalidField("stored log is not a chain")
        log.ids.append(entry.id)
