"""Anti-entropy between two peers, in the style of automerge's sync protocol.

Each side keeps one small `SyncState` per session and calls `generate_message` to get the
next message to send (None: nothing to say) and `receive_message` for each message that
arrives. A message (SPEC.md §5) carries:

    {?0: heads, ?1: entries, ?2: fork proofs, ?3: wants}
    heads  = {author: [seq, id]}   our version vector; omitted when unchanged since sent
    entries = [entry, …]           what the peer lacks, in seq order per author
    forks  = [[entry, entry], …]   fork proofs we know
    wants  = [id, …]               entries of another chain we ask for (fork descent)

The empty map `{}` means "nothing new". Rules:
- One round trip identifies every difference: after A's heads reach B, B knows exactly
  which entries A lacks (per author: those after A's head seq), and B's reply carries
  B's heads, so A knows what B lacks.
- Batches are bounded (sync_batch_entries_max, sync_message_bytes_max) and shared fairly
  among the authors the peer lacks, each author's entries in seq order.
- If a peer's head id differs from our id at that seq, the chains forked: we send our
  entry there and ask for theirs, so that both sides can prove it.
- A session ends when each side has sent `{}` and then received `{}` (see `run_session`).
"""

from dataclasses import dataclass, field
from typing import Any

from . import cbor, limits
from .entry import decode as decode_entry
from .errors import Malformed, ProtocolError
from .log import ForkProof
from .replica import Applied, Replica
from .schema import Fields, as_bytes32

Heads = dict[bytes, tuple[int, bytes]]
EMPTY = cbor.encode({})


@dataclass(slots=True)
class SyncMessage:
    heads: Heads | None = None
    entries: list[bytes] = field(default_factory=list)
    forks: list[tuple[bytes, bytes]] = field(default_factory=list)
    wants: list[bytes] = field(default_factory=list)

    def encode(self) -> bytes:
        out: dict[int, Any] = {}
        if self.heads is not None:
            out[0] = {a: [seq, i] for a, (seq, i) in self.heads.items()}
        if self.entries:
            out[1] = self.entries
        if self.forks:
            out[2] = [[a, b] for a, b in self.forks]
        if self.wants:
            out[3] = sorted(self.wants)
        return cbor.encode(out)

    @property
    def empty(self) -> bool:
        return self.heads is None and not (self.entries or self.forks or self.wants)


def entries_beyond(these: Heads, those: Heads) -> dict[bytes, int]:
    """Per author: how many entries `these` heads hold beyond `those` (what `those` lacks)."""
    return {a: seq - those.get(a, (0, b""))[0] for a, (seq, _) in these.items() if seq > those.get(a, (0, b""))[0]}


def _head(value: Any) -> tuple[int, bytes]:
    if type(value) is not list or len(value) != 2 or type(value[0]) is not int or value[0] < 1:
        raise Malformed("a head is [seq >= 1, id]")
    return value[0], as_bytes32(value[1], "head id")


def _blob(value: Any) -> bytes:
    if type(value) is not bytes:
        raise Malformed("an entry in a sync message is a byte string")
    return value


def _pair(value: Any) -> tuple[bytes, bytes]:
    if type(value) is not list or len(value) != 2:
        raise Malformed("a fork proof is [entry, entry]")
    return _blob(value[0]), _blob(value[1])


def decode_message(data: bytes) -> SyncMessage:
    fields = Fields(cbor.decode(data, limits.sync_message_bytes_max), "sync message", range(0, 4))
    heads = fields.raw(0, required=False)
    if heads is not None:
        if type(heads) is not dict or len(heads) > limits.roster_members_max:
            raise Malformed(f"heads must be a map of at most {limits.roster_members_max} authors")
        heads = {as_bytes32(a, "head author"): _head(h) for a, h in heads.items()}
    return SyncMessage(
        heads=heads,
        entries=list(fields.array(1, _blob, limits.sync_batch_entries_max)),
        forks=list(fields.array(2, _pair, limits.sync_forks_max)),
        wants=list(fields.array(3, lambda v: as_bytes32(v, "want"), limits.sync_wants_max, sorted_unique=True)),
    )


@dataclass(slots=True)
class SyncState:
    """What we know of one peer during one session."""

    their_heads: Heads | None = None
    their_wants: list[bytes] = field(default_factory=list)
    sent_upto: dict[bytes, int] = field(default_factory=dict)
    last_sent_heads: Heads | None = None
    sent_proofs: set[tuple[bytes, int]] = field(default_factory=set)
    sent_wants: set[bytes] = field(default_factory=set)
    probed: set[bytes] = field(default_factory=set)
    peer_quiet: bool = False


@dataclass(slots=True)
class Received:
    applied: list[Applied] = field(default_factory=list)
    rejected: list[ProtocolError] = field(default_factory=list)


def _probe_forks(replica: Replica, state: SyncState, heads: Heads, out: SyncMessage) -> None:
    assert state.their_heads is not None
    for author, (their_seq, their_id) in state.their_heads.items():
        ours = replica.log.id_at(author, their_seq)
        if ours is not None and ours != their_id and author not in state.probed:
            state.probed.add(author)
            out.entries.extend(replica.store.entries_after(author, their_seq - 1, 1))
            out.wants.append(their_id)


def _missing(replica: Replica, state: SyncState, heads: Heads, out: SyncMessage) -> None:
    """Add the entries the peer lacks, fairly across authors, within the batch bounds."""
    assert state.their_heads is not None
    lacking = []
    for author, (seq, _) in sorted(heads.items()):
        start = max(state.their_heads.get(author, (0, b""))[0], state.sent_upto.get(author, 0))
        if seq > start and author not in state.probed:
            lacking.append(author)
    room_entries = limits.sync_batch_entries_max - len(out.entries)
    room_bytes = limits.sync_message_bytes_max // 2 - sum(map(len, out.entries))
    while lacking and room_entries > 0 and room_bytes > 0:
        share = max(1, room_entries // len(lacking))
        for author in list(lacking):
            start = max(state.their_heads.get(author, (0, b""))[0], state.sent_upto.get(author, 0))
            batch = replica.store.entries_after(author, start, min(share, room_entries, heads[author][0] - start))
            taken = 0
            for blob in batch:
                if len(blob) > room_bytes:
                    break
                out.entries.append(blob)
                room_bytes -= len(blob)
                taken += 1
            room_entries -= taken
            state.sent_upto[author] = start + taken
            if start + taken >= heads[author][0] or taken < len(batch) or not batch:
                lacking.remove(author)
            if room_entries <= 0 or room_bytes <= 0:
                break


def generate_message(replica: Replica, state: SyncState) -> bytes | None:
    """The next message for the peer, or None when we have nothing new to say."""
    heads = replica.log.heads()
    out = SyncMessage()
    if heads != state.last_sent_heads:
        out.heads = state.last_sent_heads = heads
    for proof in replica.log.proofs():
        if (proof.author, proof.seq) not in state.sent_proofs:
            state.sent_proofs.add((proof.author, proof.seq))
            out.forks.append((proof.first.signed, proof.second.signed))
    out.wants.extend(w for w in sorted(replica.log.wants - state.sent_wants)[: limits.sync_wants_max])
    state.sent_wants.update(out.wants)
    for wanted in state.their_wants:
        blob = replica.store.entry_by_id(wanted)
        if blob is not None:
            out.entries.append(blob)
    state.their_wants = []
    if state.their_heads is not None:
        _probe_forks(replica, state, heads, out)
        _missing(replica, state, heads, out)
    out.wants = sorted(set(out.wants))[: limits.sync_wants_max]
    return None if out.empty else out.encode()


def receive_message(replica: Replica, state: SyncState, data: bytes, now_ms: int) -> Received:
    """Apply a message from the peer. A malformed message raises ProtocolError (end the
    session); a bad entry inside a well-formed one is rejected alone and reported."""
    message = decode_message(data)
    state.peer_quiet = message.empty
    if message.heads is not None:
        state.their_heads = message.heads
    state.their_wants = message.wants
    received = Received()
    entries = []
    for blob in message.entries:
        try:
            entries.append(decode_entry(blob, replica.roster))
        except ProtocolError as exc:
            received.rejected.append(exc)
    applied, too_early = replica.receive_many(entries, now_ms)
    received.applied.extend(applied)
    received.rejected.extend(too_early)
    for first, second in message.forks:
        try:
            proof = ForkProof.of(decode_entry(first, replica.roster), decode_entry(second, replica.roster))
            received.applied.append(replica.receive_proof(proof))
        except ProtocolError as exc:
            received.rejected.append(exc)
    return received


@dataclass(slots=True)
class SessionStats:
    messages: int = 0
    bytes: int = 0

    @property
    def round_trips(self) -> float:
        return self.messages / 2


def run_session(
    a: Replica, b: Replica, now_ms: int, messages_max: int = 10_000, b_now_ms: int | None = None
) -> SessionStats:
    """Drive one sync session between two in-memory replicas (tests and the simulator).

    Strict alternation, A first; it ends when A sent `{}` and then received `{}`, exactly
    as the node's stream handler does over a real connection. `b_now_ms` is B's clock
    when it differs from A's (clock skew).
    """
    states = (SyncState(), SyncState())
    replicas = (a, b)
    clocks = (now_ms, now_ms if b_now_ms is None else b_now_ms)
    stats = SessionStats()
    turn = 0
    sent_empty = [False, False]
    while stats.messages < messages_max:
        me, peer = turn % 2, 1 - turn % 2
        data = generate_message(replicas[me], states[me]) or EMPTY
        sent_empty[me] = data == EMPTY
        stats.messages += 1
        stats.bytes += len(data)
        receive_message(replicas[peer], states[peer], data, clocks[peer])
        if sent_empty[me] and states[me].peer_quiet and stats.messages > 1:
            return stats
        turn += 1
    raise AssertionError("sync session did not end")
