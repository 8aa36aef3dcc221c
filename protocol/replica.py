"""A replica: one member's view of the federation, over a store the caller provides.

This is the decision core the node and the simulator share: it signs local writes (behind
the write gate), takes in remote entries and fork proofs, keeps the log bookkeeping and
folds canonical entries into incident states.

Rules:
- Stored before changed: every change is made in a log transaction, persisted through
  `Store.put` (which returns only once it is committed: all or nothing, surviving a crash
  of the process; the node makes it survive power loss before it tells anyone, node/commit.py)
  and only then committed and folded.
  If the store fails, the transaction is rolled back and the clock restored: a failed
  write consumes no seq and changes no state, and the caller may simply try again.
- What we show: an entry addressed to other members (`to`) is stored, relayed and logged
  like any other, but folded only by its addressees and its author (Entry.shown_to).
- Profiles (self-assessments) concern no incident: they are kept per author, and the one
  with the greatest order key is the author's current profile.
- Governance entries (protocol/governance.py) concern no incident either: canonical ones
  are held by the replica's Governance, and after every change its fold replaces the
  roster's content. A key the fold makes former is cut at its last accepted seq: its
  later entries leave the store, the log and every fold, and the roster refuses them
  from then on, wherever they come from.
- Only ProtocolError subclasses escape for bad input; a store failure escapes as whatever
  the store raised, with nothing changed.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from . import limits
from .body import Body, Kind, Open, Sealed
from .entry import Entry, create
from .entry import decode as decode_entry
from .errors import ClockSkew, InvalidField, NotAMember, ProtocolError, WriteRefused
from .gate import WriteGate
from .governance import Governance, State
from .hlc import Hlc
from .identity import Identity
from .incident import IncidentState
from .kinds import GOVERNANCE_KINDS
from .log import Added, ForkProof, Log, Status
from .roster import Roster
from .sealed import INNER_KINDS, Keyring, key_id, seal, wrap

Heads = dict[bytes, tuple[int, bytes]]

# Gossip forwards an entry the first time it arrives by gossip (the transport keeps the
# seen ids: the node gossip's seen set, a set in the simulator) — our own publishes
# and entries sync brought first included — but not one past its author's fork verdict,
# nor one there was no room to hold.
NOT_FORWARDED = frozenset({Status.EXCLUDED, Status.PENDING_FULL})


class Store(Protocol):
    """Storage of entries; `put` returns only once everything given is committed."""

    def put(self, chained: list[Entry], evidence: list[Entry], proofs: list[ForkProof], hlc: int) -> None: ...
    def entry_at(self, author: bytes, seq: int) -> Entry: ...
    def entries_after(self, author: bytes, seq: int, limit: int) -> list[bytes]: ...
    def drop_after(self, author: bytes, seq: int) -> None: ...
    def entry_by_id(self, entry_id: bytes) -> bytes | None: ...
    def holds(self, entry_id: bytes) -> bool: ...
    def entries_about(self, incident: bytes) -> list[Entry]: ...  # chained, that the roster reads
    def touched_from(self, author: bytes, seq: int) -> set[tuple[bytes, Kind]]: ...  # (incident, kind)


@dataclass(slots=True)
class Applied:
    status: Status
    stored: list[Entry] = field(default_factory=list)  # newly stored: chained, then proof evidence
    incidents: set[bytes] = field(default_factory=set)  # whose state changed
    fork: tuple[bytes, int] | None = None  # (author, new fork seq)

    @property
    def forwarded(self) -> bool:
        return self.status not in NOT_FORWARDED


class Replica:
    def __init__(
        self,
        store: Store,
        roster: Roster,
        identity: Identity | None = None,
        hlc: int = 0,
        gate: WriteGate | None = None,
        random_bytes: Callable[[int], bytes] | None = None,
        governance: Governance | None = None,
    ) -> None:
        self.store = store
        self.roster = roster
        self.governance = governance  # None: the roster stays as given (the simulator)
        self.charter: State | None = None if governance is None else governance.fold()
        self._governance_changed = False
        self.identity = identity
        self.hlc = Hlc(hlc)
        self.gate = gate
        self.log = Log(store.entry_at)
        self.incidents: dict[bytes, IncidentState] = {}
        self.profiles: dict[bytes, list[Entry]] = {}  # author -> canonical profiles, as stored
        self.keyring = Keyring(identity)  # restricted incidents (protocol/sealed.py)
        self.random_bytes = random_bytes  # nonces and content keys of sealed entries
        # Others' chained entries addressed to us (delivery receipts answer them). The rest
        # are not held: a refold reads what it needs from the store.
        self._addressed: list[Entry] = []

    @property
    def me(self) -> bytes | None:
        return None if self.identity is None else self.identity.public_key

    def restore(self, chained: Iterable[Entry], proofs: Iterable[ForkProof]) -> bool:
        """Rebuild from our own store at start-up: chained entries in seq order per author
        (authors not restored before), each folded as it comes (the proofs, known first,
        say which are canonical), so that a node's store never has to fit in memory at
        once. True if the roster changed: the store then holds entries of members it did
        not know, to restore in another round."""
        for proof in proofs:
            self.log.restore_proof(proof)
        for entry in chained:
            self.log.restore(entry)
            self._note_addressed(entry)
            if entry.hlc > self.hlc.value:
                self.hlc.value = entry.hlc
            if self.log.is_canonical(entry):
                self._fold(entry)
        changed, _ = self._govern()
        return changed

    def _fold(self, entry: Entry) -> bytes | None:
        """Fold a canonical entry; the incident it changed, if any."""
        if entry.kind in GOVERNANCE_KINDS:
            if self.governance is not None and self.governance.add(entry):
                self._governance_changed = True
            return None
        if not entry.shown_to(self.me):
            return None
        if entry.kind is Kind.PROFILE:
            self.profiles.setdefault(entry.author, []).append(entry)
            return None
        incident = entry.incident
        readable = self.keyring.learn(entry) if entry.kind is Kind.SEALED else [entry]
        for folded in readable:
            state = self.incidents.get(incident)
            if state is None:
                state = self.incidents[incident] = IncidentState(incident)
            state.apply(folded)
        changed = bool(readable)
        if entry.kind is Kind.SEALED and incident in self.incidents:  # its recipients may have changed
            self.incidents[incident].restricted_to = frozenset(self.keyring.current_recipients(incident))
            changed = True
        return incident if changed else None

    def addressed_to_me(self) -> list[Entry]:
        """Others' canonical entries addressed to us (what delivery receipts answer)."""
        return [e for e in self._addressed if self.log.is_canonical(e)]

    def _note_addressed(self, entry: Entry) -> None:
        if entry.to and self.me in entry.to and entry.author != self.me:
            self._addressed.append(entry)

    def current_profiles(self) -> dict[bytes, Entry]:
        """Each author's latest self-assessment (latest wins: by hlc, author, id)."""
        return {author: max(held, key=lambda e: e.order_key) for author, held in self.profiles.items()}

    # --- local writes ---

    def refusal(self, now_ms: int) -> WriteRefused | None:
        """Why a write now would be refused, or None (for health reports)."""
        try:
            self._check_gate(now_ms)
        except WriteRefused as exc:
            return exc
        return None

    def _check_gate(self, now_ms: int) -> None:
        assert self.identity is not None, "a replica without identity cannot write"
        seq, _ = self.log.next_seq(self.identity.public_key)  # raises IdentityForked
        if self.governance is not None and not self.roster.is_current(self.identity.public_key):
            raise NotAMember(
                "this node's key is not a member of the federation's roster: not admitted yet, revoked, "
                "or rotated away from (GET /v1/governance shows the roster)"
            )
        if self.gate is not None:
            self.gate.check(seq - 1, self.log.fork_seq(self.identity.public_key), self.hlc.value, now_ms)

    def write(
        self,
        body: Body,
        now_ms: int,
        exercise: str | None = None,
        operator: str | None = None,
        to: tuple[bytes, ...] = (),
        file_key: bytes | None = None,
    ) -> Entry:
        """Sign and store a new entry of our own; committed when this returns. Raises
        WriteRefused (the gate), InvalidField (the body), or the store's error; in every
        case nothing changed. `file_key`: media of a restricted incident, whose chunks a
        ChunkSealer sealed with it."""
        assert self.identity is not None, "a replica without identity cannot write"
        self._check_gate(now_ms)
        seq, prev = self.log.next_seq(self.identity.public_key)
        before = self.hlc.value
        to = to or self.addressees(body)
        body = self._sealed_if_restricted(body, file_key)
        try:
            entry = create(self.identity, seq, prev, self.hlc.tick(now_ms), body, exercise, operator, to)
            applied, errors = self.receive_many([entry], now_ms)
        except BaseException:
            self.hlc.value = before
            raise
        if errors:
            self.hlc.value = before
            raise errors[0]
        assert applied[0].status is Status.APPENDED, "our own entry must append"
        return entry

    # --- restricted incidents (protocol/sealed.py) ---

    def _random(self, size: int) -> bytes:
        assert self.random_bytes is not None, "sealing needs randomness: pass random_bytes"
        return self.random_bytes(size)

    def _sealed_if_restricted(self, body: Body, file_key: bytes | None) -> Body:
        """An entry about a restricted incident goes out sealed under its current key."""
        incident = getattr(body, "incident", None)
        if incident is None or body.kind is Kind.SEALED or not self.keyring.restricted(incident):
            if file_key is not None:
                raise InvalidField("sealed media belongs to a restricted incident")
            return body
        if body.kind not in INNER_KINDS:
            raise InvalidField(f"a {body.kind.name.lower()} cannot be added to a restricted incident yet")
        current = self.keyring.current_key(incident)
        if current is None:
            raise InvalidField("this member is not a recipient of the restricted incident")
        assert self.identity is not None
        return seal(
            self.identity, incident, body, current[1], self._random(limits.sealed_nonce_bytes), file_key=file_key
        )

    def open_restricted(
        self,
        opening: Open,
        recipients: set[bytes],
        now_ms: int,
        exercise: str | None = None,
        operator: str | None = None,
    ) -> Entry:
        """Open an incident only `recipients` (and we) can read."""
        assert self.identity is not None, "a replica without identity cannot write"
        key = self._random(limits.sealed_key_bytes)
        wrap_for = {r: self._random(limits.sealed_nonce_bytes) for r in {*recipients, self.identity.public_key}}
        body = seal(self.identity, None, opening, key, self._random(limits.sealed_nonce_bytes), wrap_for)
        return self.write(body, now_ms, exercise, operator)

    def change_recipients(
        self, incident: bytes, added: set[bytes], removed: set[bytes], now_ms: int, operator: str | None = None
    ) -> Entry:
        """Share the current key with `added`; with `removed`, rotate to a new key for the
        others (they read on; the removed read nothing written afterwards)."""
        assert self.identity is not None, "a replica without identity cannot write"
        current = self.keyring.current_key(incident)
        state = self.incidents.get(incident)
        if current is None or state is None or state.opening is None:
            raise InvalidField("this member is not a recipient of the restricted incident")
        if self.identity.public_key in removed:
            raise InvalidField("a recipient cannot remove itself")
        if removed:
            stay = (self.keyring.current_recipients(incident) | added | {self.identity.public_key}) - removed
            key = self._random(limits.sealed_key_bytes)
        else:
            stay, key = added, current[1]
        keys = wrap(self.identity, key, {r: self._random(limits.sealed_nonce_bytes) for r in stay})
        return self.write(Sealed(incident, key_id(key), keys=keys), now_ms, state.opening.exercise, operator)

    def readable(self, entry: Entry) -> Entry | None:
        """An entry as this member reads it: itself, or a sealed one opened (None: a key
        share, or sealed for others)."""
        if entry.kind is not Kind.SEALED:
            return entry
        try:
            return self.keyring.readable(entry)
        except ProtocolError:
            return None

    def addressees(self, body: Body) -> tuple[bytes, ...]:
        """Whom an entry about an addressed incident goes to: the opening's addressees and
        its author, so that answers reach whoever could see the question."""
        incident = getattr(body, "incident", None)
        state = None if incident is None else self.incidents.get(incident)
        if state is None or state.opening is None or not state.opening.to:
            return ()
        return tuple(sorted({*state.opening.to, state.opening.author}))

    # --- what peers send ---

    def receive(self, entry: Entry, now_ms: int) -> Applied:
        """Take in a verified entry; raises ClockSkew if it is too far ahead of `now_ms`."""
        applied, errors = self.receive_many([entry], now_ms)
        if errors:
            raise errors[0]
        return applied[0]

    def receive_many(self, entries: list[Entry], now_ms: int) -> tuple[list[Applied], list[ProtocolError]]:
        """Take in verified entries with one store transaction for all of them (a sync
        batch costs one commit, not one each). Entries too far ahead are returned as errors."""
        batch: list[Added] = []
        errors: list[ProtocolError] = []
        before = self.hlc.value
        self.log.begin()
        try:
            for entry in entries:
                try:
                    added = self.log.add(entry, now_ms)
                except ClockSkew as exc:
                    errors.append(exc)
                    continue
                if entry.author != self.me:
                    self.hlc.observe(entry.hlc, now_ms)
                batch.append(added)
            self._persist([e for added in batch for e in added.appended], [a.proof for a in batch if a.proof])
        except BaseException:
            self.log.rollback()
            self.hlc.value = before
            raise
        self.log.commit()
        applied = [self._apply(added) for added in batch]
        self._governed(applied)
        return applied, errors

    def receive_proof(self, proof: ForkProof) -> Applied:
        """Take in a fork proof a peer holds (both entries verified)."""
        self.log.begin()
        try:
            lowered = self.log.add_proof(proof)
            self._persist([], [lowered] if lowered else [])
        except BaseException:
            self.log.rollback()
            raise
        self.log.commit()
        if not lowered:
            return Applied(Status.DUPLICATE)
        applied = self._apply(Added(Status.FORK, proof=lowered))
        self._governed([applied])
        return applied

    def _persist(self, chained: list[Entry], proofs: list[ForkProof]) -> None:
        lowest: dict[bytes, ForkProof] = {}
        for proof in proofs:
            if proof.author not in lowest or proof.seq < lowest[proof.author].seq:
                lowest[proof.author] = proof
        if chained or lowest:
            evidence = [e for p in lowest.values() for e in (p.first, p.second)]
            self.store.put(chained, evidence, list(lowest.values()), self.hlc.value)

    def _apply(self, added: Added) -> Applied:
        """Fold what `added` appended; it is stored and committed."""
        proof = added.proof
        applied = Applied(added.status, stored=added.appended + ([proof.first, proof.second] if proof else []))
        for entry in added.appended:
            self._note_addressed(entry)
            if self.log.is_canonical(entry) and (incident := self._fold(entry)) is not None:
                applied.incidents.add(incident)
        if proof is not None:
            applied.fork = (proof.author, proof.seq)
            applied.incidents |= self._refold(proof.author, proof.seq)
        return applied

    def _refold(self, author: bytes, from_seq: int) -> set[bytes]:
        """The author's entries from `from_seq` on are no longer canonical (a fork, or a
        cut): refold what they touched, from the store (it still holds them)."""
        late = self.store.touched_from(author, from_seq)
        touched = {incident for incident, kind in late if kind is not Kind.PROFILE and kind not in GOVERNANCE_KINDS}
        if author in self.profiles:
            self.profiles[author] = [e for e in self.profiles[author] if self.log.is_canonical(e)]
        if self.governance is not None and any(kind in GOVERNANCE_KINDS for _, kind in late):
            self.governance.keep(self.log.is_canonical)
            self._governance_changed = True
        for incident in touched:
            self.incidents[incident] = IncidentState(incident)
        for incident in sorted(touched):
            for entry in self.store.entries_about(incident):
                if entry.kind is not Kind.PROFILE and self.log.is_canonical(entry):
                    self._fold(entry)
        for incident in touched:
            if not self.incidents[incident].partials:  # nothing canonical is left of it
                del self.incidents[incident]
        return touched

    # --- governance (protocol/governance.py) ---

    def _governed(self, applied: list[Applied]) -> None:
        """Fold governance after a change; the last Applied reports the incidents a cut
        refolded (`charter` is a new object whenever the roster changed)."""
        _, touched = self._govern()
        if applied:
            applied[-1].incidents |= touched

    def _govern(self) -> tuple[bool, set[bytes]]:
        """Refold the roster if governance entries changed; cut the keys it makes former.
        Cutting lets go of entries, which may change the fold again: repeat until it holds
        (each round cuts at least one more key, so at most one per member)."""
        if self.governance is None or not self._governance_changed:
            return False, set()
        changed, touched = False, set()
        for _ in range(limits.roster_members_max + 1):
            self._governance_changed = False
            state = self.governance.fold()
            if state == self.charter:
                break
            changed, self.charter = True, state
            self.roster.replace(state.members.values(), state.former)
            for key, (_, last_seq) in state.former.items():
                touched |= self._cut(key, last_seq)
            if not self._governance_changed:
                break
        return changed, touched

    def _cut(self, author: bytes, last_seq: int) -> set[bytes]:
        """Let go of a former key's entries after its last accepted seq."""
        longer = self.log.chain_length(author) > last_seq
        self.log.truncate(author, last_seq)  # and what waits beyond it
        if not longer:
            return set()
        touched = self._refold(author, last_seq + 1)
        self._addressed = [e for e in self._addressed if e.author != author or e.seq <= last_seq]
        self.store.drop_after(author, last_seq)
        return touched

    def decode(self, data: bytes) -> Entry:
        """An entry from a peer, decoded and verified against our roster (ProtocolError if bad)."""
        return decode_entry(data, self.roster)

    # --- what sync sessions learn of a peer (for the write gate) ---

    def heard_heads(self, peer: str, heads: Heads) -> None:
        if self.gate is not None and self.me is not None:
            self.gate.heard_heads(peer, heads.get(self.me, (0, b""))[0])

    def heard_clock(self, peer: str, their_now_ms: int, now_ms: int) -> None:
        if self.gate is not None:
            self.gate.heard_clock(peer, their_now_ms, now_ms)

    def session_completed(self) -> None:
        if self.gate is not None:
            self.gate.synced = True

    def visible_incidents(self) -> dict[bytes, IncidentState]:
        return {i: s for i, s in self.incidents.items() if s.visible}
