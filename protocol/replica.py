"""A replica: one member's view of the federation, over a store the caller provides.

This is the decision core the node and the simulator share: it signs local writes, takes
in remote entries and fork proofs, keeps the log bookkeeping and folds canonical entries
into incident states. It persists through `Store` *before* it changes any state, so a
caller that acknowledges after `write` returns acknowledges only what is durable.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from .body import Body
from .entry import Entry, create
from .errors import ClockSkew, ProtocolError
from .hlc import Hlc
from .identity import Identity
from .incident import IncidentState
from .log import Added, ForkProof, Log, Status
from .roster import Roster


class Store(Protocol):
    """Durable storage of entries; `put` returns only once the entries are durable."""

    def put(self, chained: list[Entry], evidence: list[Entry], hlc: int) -> None: ...
    def put_proof(self, proof: ForkProof) -> None: ...
    def entry_at(self, author: bytes, seq: int) -> Entry: ...
    def entries_after(self, author: bytes, seq: int, limit: int) -> list[bytes]: ...
    def entry_by_id(self, entry_id: bytes) -> bytes | None: ...


@dataclass(slots=True)
class Applied:
    status: Status
    stored: list[Entry] = field(default_factory=list)
    incidents: set[bytes] = field(default_factory=set)  # whose state changed
    fork: tuple[bytes, int] | None = None  # (author, new fork seq)


class Replica:
    def __init__(self, store: Store, roster: Roster, identity: Identity | None = None, hlc: int = 0) -> None:
        self.store = store
        self.roster = roster
        self.identity = identity
        self.hlc = Hlc(hlc)
        self.log = Log(store.entry_at)
        self.incidents: dict[bytes, IncidentState] = {}
        self._by_author: dict[bytes, list[Entry]] = {}  # canonical entries, for refolds

    def restore(self, chained: Iterable[Entry], proofs: Iterable[ForkProof]) -> None:
        """Rebuild from our own store at start-up: chained entries in seq order per author."""
        for entry in chained:
            self.log.restore(entry)
            self._by_author.setdefault(entry.author, []).append(entry)
            if entry.hlc > self.hlc.value:
                self.hlc.value = entry.hlc
        for proof in proofs:
            self.log.add_proof(proof)
        for entries in self._by_author.values():
            for entry in entries:
                if self.log.is_canonical(entry):
                    self._fold(entry)

    def _fold(self, entry: Entry) -> bytes:
        incident = entry.incident
        state = self.incidents.get(incident)
        if state is None:
            state = self.incidents[incident] = IncidentState(incident)
        state.apply(entry)
        return incident

    def write(self, body: Body, now_ms: int, exercise: str | None = None) -> Entry:
        """Sign and store a new entry of our own; durable when this returns."""
        assert self.identity is not None, "a replica without identity cannot write"
        seq, prev = self.log.next_seq(self.identity.public_key)
        entry = create(self.identity, seq, prev, self.hlc.tick(now_ms), body, exercise)
        applied = self.receive(entry, now_ms)
        assert applied.status is Status.APPENDED, "our own entry must append"
        return entry

    def receive(self, entry: Entry, now_ms: int) -> Applied:
        """Take in a verified entry; raises ClockSkew if it is too far ahead of `now_ms`."""
        applied, errors = self.receive_many([entry], now_ms)
        if errors:
            raise errors[0]
        return applied[0]

    def receive_many(self, entries: list[Entry], now_ms: int) -> tuple[list[Applied], list[ProtocolError]]:
        """Take in verified entries with one durable write for all of them (a sync batch
        costs one fsync, not one each). Entries too far ahead are returned as errors."""
        me = getattr(self.identity, "public_key", None)
        batch: list[Added] = []
        errors: list[ProtocolError] = []
        for entry in entries:
            try:
                added = self.log.add(entry, now_ms)
            except ClockSkew as exc:
                errors.append(exc)
                continue
            if entry.author != me:
                self.hlc.observe(entry.hlc, now_ms)
            batch.append(added)
        chained = [e for added in batch for e in added.appended]
        evidence = [e for added in batch for e in added.evidence]
        if chained or evidence:
            self.store.put(chained, evidence, self.hlc.value)
        return [self._apply(added) for added in batch], errors

    def receive_proof(self, proof: ForkProof) -> Applied:
        if self.log.add_proof(proof) is None:
            return Applied(Status.DUPLICATE)
        return self._apply(Added(Status.FORK, proof=proof))

    def _apply(self, added: Added) -> Applied:
        """Fold what `added` appended; the caller has already stored it."""
        applied = Applied(added.status, stored=added.appended + added.evidence)
        for entry in added.appended:
            self._by_author.setdefault(entry.author, []).append(entry)
            if self.log.is_canonical(entry):
                applied.incidents.add(self._fold(entry))
        if added.proof is not None:
            self.store.put_proof(added.proof)
            applied.fork = (added.proof.author, added.proof.seq)
            applied.incidents |= self._refold(added.proof.author, added.proof.seq)
        return applied

    def _refold(self, author: bytes, fork_seq: int) -> set[bytes]:
        """A fork excludes the author's entries from `fork_seq` on: refold what they touched."""
        touched = {e.incident for e in self._by_author.get(author, []) if e.seq >= fork_seq}
        for incident in touched:
            self.incidents[incident] = IncidentState(incident)
        for entries in self._by_author.values():
            for entry in entries:
                if entry.incident in touched and self.log.is_canonical(entry):
                    self._fold(entry)
        for incident in touched:
            if not self.incidents[incident].partials:  # nothing canonical is left of it
                del self.incidents[incident]
        return touched

    def visible_incidents(self) -> dict[bytes, IncidentState]:
        return {i: s for i, s in self.incidents.items() if s.visible}
