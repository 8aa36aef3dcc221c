"""An in-memory `Store` for the deterministic simulator and the property tests.

It keeps what a durable store keeps (chained entries, evidence, proofs, the HLC), so a
simulated crash can rebuild a replica from it exactly as a node restarts from SQLite.
"""

from .body import Kind
from .entry import Entry
from .log import ForkProof


class MemoryStore:
    def __init__(self) -> None:
        self.chained: dict[bytes, list[Entry]] = {}
        self.by_id: dict[bytes, Entry] = {}
        self.proofs: dict[bytes, ForkProof] = {}
        self.hlc = 0

    def put(self, chained: list[Entry], evidence: list[Entry], proofs: list[ForkProof], hlc: int) -> None:
        for entry in chained:
            log = self.chained.setdefault(entry.author, [])
            assert entry.seq == len(log) + 1, "chained entries arrive in seq order"
            log.append(entry)
        for entry in chained + evidence:
            self.by_id.setdefault(entry.id, entry)
        for proof in proofs:
            self.proofs[proof.author] = proof
        self.hlc = max(self.hlc, hlc)

    def entry_at(self, author: bytes, seq: int) -> Entry:
        return self.chained[author][seq - 1]

    def entries_after(self, author: bytes, seq: int, limit: int) -> list[bytes]:
        return [e.signed for e in self.chained.get(author, [])[seq : seq + limit]]

    def entry_by_id(self, entry_id: bytes) -> bytes | None:
        entry = self.by_id.get(entry_id)
        return None if entry is None else entry.signed

    def holds(self, entry_id: bytes) -> bool:
        return entry_id in self.by_id

    def entries_about(self, incident: bytes) -> list[Entry]:
        return [e for _, log in sorted(self.chained.items()) for e in log if e.incident == incident]

    def touched_from(self, author: bytes, seq: int) -> set[tuple[bytes, Kind]]:
        return {(e.incident, e.kind) for e in self.chained.get(author, [])[seq - 1 :]}

    def drop_after(self, author: bytes, seq: int) -> None:
        for entry in self.chained.get(author, [])[seq:]:
            del self.by_id[entry.id]
        del self.chained.get(author, [])[seq:]

    def all_chained(self) -> list[Entry]:
        return [e for _, log in sorted(self.chained.items()) for e in log]
