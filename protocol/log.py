"""Per-author log bookkeeping: chains, gaps, fork proofs and the verdict (SPEC.md §3.1).

Rules:
- Each author's chain, as this replica holds it, is the first chain seq 1, 2, … it
  received, each entry's `prev` the id of the one before. Entries that arrive before their
  predecessor wait in a bounded pending set and join when the gap fills.
- Two valid entries of one author prove a fork when they cannot both be in one chain:
  the same seq with different ids (fork seq: that seq), or an entry at s+1 whose prev is
  not the id of the entry at s (fork seq: s). Proofs are normalised: lower seq first, and
  at equal seqs the lower id first.
- The verdict on an author is its lowest proven fork seq F: its entries at F and after are
  excluded everywhere; what is below F is its canonical log and is folded into state.
- Every entry that arrives, and both entries of every proof that arrives, are compared
  with our chain at their seq and at the seq below, so whatever anyone proves about a
  chain we hold, we prove too. Sync compares chains that differ below F directly and finds
  where they part in a bounded number of round trips (SPEC.md §5.2), and proofs travel
  with sync: every replica ends with the lowest divergence among the chains any of them
  holds, whatever the order of arrival.
- Changes are made inside a transaction (`begin` … `commit` or `rollback`): the caller
  persists in between and rolls back if the store fails, so a failed write consumes no
  seq and changes nothing.
- The log holds ids only; it reads an entry of our chain back through `lookup` only to
  build a proof (entries added in the open transaction are found in its journal).
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
    FORK = "fork"  # it proved a fork (lower than any known: `Added.proof` is set)


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
        return self.first.seq

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


@dataclass(slots=True)
class _Saved:
    """An author's bookkeeping as it was when the transaction first touched it."""

    length: int
    pending: dict[int, Entry]
    proof: ForkProof | None


class Log:
    """`lookup(author, seq)` returns an entry of our chain from the caller's store."""

    def __init__(self, lookup: Lookup) -> None:
        self._lookup = lookup
        self._authors: dict[bytes, _AuthorLog] = {}
        self._pending_total = 0
        self.wants: set[bytes] = set()  # ids of other-chain entries we ask peers for
        self._saved: dict[bytes, _Saved] | None = None  # open transaction
        self._journal: dict[tuple[bytes, int], Entry] = {}  # entries appended in it
        self._saved_totals: tuple[int, set[bytes]] = (0, set())
        self._heads: dict[bytes, tuple[int, bytes]] | None = None  # cache; None once anything changes

    # --- reading ---

    def heads(self) -> dict[bytes, tuple[int, bytes]]:
        """The version vector: for each author, its highest canonical seq and that entry's id.
        One map while nothing changes (every sync message and heads announcement asks for
        it), so callers must not change it."""
        if self._heads is None:
            self._heads = {
                a: (log.canonical_seq, log.ids[log.canonical_seq - 1])
                for a, log in self._authors.items()
                if log.canonical_seq
            }
        return self._heads

    def head(self, author: bytes) -> tuple[int, bytes | None]:
        log = self._authors.get(author)
        if log is None or not log.canonical_seq:
            return 0, None
        return log.canonical_seq, log.ids[log.canonical_seq - 1]

    def chain_length(self, author: bytes) -> int:
        """How far our chain of `author` goes, beyond its verdict too (for fork descent)."""
        log = self._authors.get(author)
        return 0 if log is None else len(log.ids)

    def id_at(self, author: bytes, seq: int) -> bytes | None:
        """The id at `seq` in our chain of `author` (canonical or not), if we hold it."""
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
            raise IdentityForked.at(log.proof.seq)
        return len(log.ids) + 1, (log.ids[-1] if log.ids else None)

    # --- transactions ---

    def begin(self) -> None:
        assert self._saved is None, "log transactions do not nest"
        self._saved = {}
        self._journal = {}
        self._saved_totals = (self._pending_total, set(self.wants))

    def commit(self) -> None:
        assert self._saved is not None, "no log transaction is open"
        self._saved = None
        self._journal = {}

    def rollback(self) -> None:
        assert self._saved is not None, "no log transaction is open"
        self._heads = None
        for author, saved in self._saved.items():
            log = self._authors[author]
            del log.ids[saved.length :]
            log.pending, log.proof = saved.pending, saved.proof
        self._pending_total, self.wants = self._saved_totals
        self._saved = None
        self._journal = {}

    def _author(self, author: bytes) -> _AuthorLog:
        """An author's bookkeeping, to change: saved for a rollback, and the heads recomputed."""
        self._heads = None
        log = self._authors.setdefault(author, _AuthorLog())
        if self._saved is not None and author not in self._saved:
            self._saved[author] = _Saved(len(log.ids), dict(log.pending), log.proof)
        return log

    def _ours(self, author: bytes, seq: int) -> Entry:
        return self._journal.get((author, seq)) or self._lookup(author, seq)

    # --- changes (inside a transaction) ---

    def add(self, entry: Entry, now_ms: int) -> Added:
        """Take in a verified entry. Raises ClockSkew if it is too far in the future."""
        assert self._saved is not None, "add runs inside a transaction"
        check_skew(entry.hlc, now_ms)
        self.wants.discard(entry.id)
        log = self._author(entry.author)
        proof = self._conflict(log, entry)
        if proof is not None:
            return self._prove(log, proof)
        if entry.seq <= len(log.ids):
            return Added(Status.DUPLICATE)
        if log.proof is not None and entry.seq >= log.proof.seq:
            return Added(Status.EXCLUDED)
        if entry.seq > len(log.ids) + 1:
            return self._park(log, entry)
        added = Added(Status.APPENDED)
        while True:
            self._append(log, entry, added)
            following = log.pending.pop(len(log.ids) + 1, None)
            if following is None:
                return added
            self._pending_total -= 1
            proof = self._conflict(log, following)
            if proof is not None:
                # A parked entry that does not link proves a fork; what linked stays appended.
                added.proof = self._prove(log, proof).proof
                return added
            entry = following

    def _append(self, log: _AuthorLog, entry: Entry, added: Added) -> None:
        log.ids.append(entry.id)
        self._journal[(entry.author, entry.seq)] = entry
        added.appended.append(entry)

    def _conflict(self, log: _AuthorLog, entry: Entry) -> ForkProof | None:
        """A proof that `entry` and our chain cannot be one chain, at the lowest seq it shows."""
        below = entry.seq - 1
        if 0 < below <= len(log.ids) and entry.prev != log.ids[below - 1]:
            return ForkProof.of(self._ours(entry.author, below), entry)
        if entry.seq <= len(log.ids) and log.ids[entry.seq - 1] != entry.id:
            return ForkProof.of(self._ours(entry.author, entry.seq), entry)
        return None

    def _prove(self, log: _AuthorLog, proof: ForkProof) -> Added:
        if log.proof is not None and log.proof.seq <= proof.seq:
            return Added(Status.EXCLUDED)
        log.proof = proof
        for seq in [s for s in log.pending if s >= proof.seq]:
            del log.pending[seq]
            self._pending_total -= 1
        # Where the two chains part may lie lower still: ask for the other chain's entry
        # below (a peer holding it will send it, and it is compared in turn).
        for entry in (proof.first, proof.second):
            if entry.prev is not None and self.id_at(entry.author, entry.seq - 1) != entry.prev:
                self._want(entry.prev)
        return Added(Status.FORK, proof=proof)

    def _want(self, entry_id: bytes) -> None:
        if len(self.wants) < limits.sync_wants_max:
            self.wants.add(entry_id)

    def add_proof(self, proof: ForkProof) -> ForkProof | None:
        """Take in a proof from a peer; returns the proof that lowered the verdict, if any.
        Both its entries are also compared with our chain, which may prove lower still."""
        assert self._saved is not None, "add_proof runs inside a transaction"
        log = self._author(proof.author)
        lowest = proof
        for entry in (proof.first, proof.second):
            mine = self._conflict(log, entry)
            if mine is not None and mine.seq < lowest.seq:
                lowest = mine
        return self._prove(log, lowest).proof

    def _park(self, log: _AuthorLog, entry: Entry) -> Added:
        parked = log.pending.get(entry.seq)
        if parked is not None:
            if parked.id == entry.id:
                return Added(Status.DUPLICATE)
            return self._prove(log, ForkProof.of(parked, entry))  # two entries at one seq: a fork
        if (
            self._pending_total >= limits.pending_entries_max
            or len(log.pending) >= limits.pending_entries_per_author_max
        ):
            return Added(Status.PENDING_FULL)
        log.pending[entry.seq] = entry
        self._pending_total += 1
        return Added(Status.PENDING)

    def truncate(self, author: bytes, last_seq: int) -> None:
        """Forget `author`'s chain past `last_seq`, and what waits beyond it: a revoked or
        rotated key (the roster refuses its later entries, so they never come back)."""
        assert self._saved is None, "truncate runs outside a transaction"
        self._heads = None
        log = self._authors.get(author)
        if log is None:
            return
        del log.ids[last_seq:]
        for seq in [s for s in log.pending if s > last_seq]:
            del log.pending[seq]
            self._pending_total -= 1

    # --- start-up ---

    def restore(self, entry: Entry) -> None:
        """Re-add a chained entry read back from our own store (in seq order per author)."""
        self._heads = None
        log = self._authors.setdefault(entry.author, _AuthorLog())
        if entry.seq != len(log.ids) + 1 or (log.ids and entry.prev != log.ids[-1]):
            raise InvalidField("stored log is not a chain")
        log.ids.append(entry.id)

    def restore_proof(self, proof: ForkProof) -> None:
        self._heads = None
        log = self._authors.setdefault(proof.author, _AuthorLog())
        if log.proof is None or proof.seq < log.proof.seq:
            log.proof = proof
