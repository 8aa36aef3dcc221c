"""Anti-entropy between two peers, in the style of automerge's sync protocol (SPEC.md §5).

A session keeps one small `SyncState` of the peer and alternates strictly, the dialer
first: `Session.outgoing` gives the next message to send, `Session.incoming` applies the
next that arrives, and `Session.done` says when to close. The node runs it over a libp2p
stream, the simulator and the tests between two replicas in memory (`run_session`): one
state machine, whatever carries the bytes. A message carries:

    {?0: heads, ?1: entries, ?2: forks, ?3: wants, ?4: samples, ?5: clock}
    heads   = {author: [seq, id]}        our version vector; omitted when unchanged since sent
    entries = [entry, …]                 what the peer lacks, in seq order per author
    forks   = [[entry, entry], …]        fork proofs we hold
    wants   = [id, …]                    entries of another chain we ask for
    samples = {author: [[seq, id], …]}   ids of our chain of a forked author (fork descent)
    clock   = ms                         our wall clock, in our first message

Rules:
- One round trip identifies every difference: after A's heads reach B, B knows exactly
  which entries A lacks (per author: those after A's head seq), and B's reply carries
  B's heads, so A knows what B lacks.
- A sender never builds a message its receiver must refuse: every part is bounded by
  count (the limits below) and by bytes (entries and proofs share sync_batch_bytes_max),
  and what does not fit waits for the next message. Entries are shared fairly among the
  authors the peer lacks, each author's in seq order.
- Fork descent: where the peer's head id differs from our chain's id at that seq, the two
  chains part at or below it. Each side sends the ids of its chain at up to
  sync_samples_max evenly spaced seqs of the interval still in doubt; the other narrows
  the interval to (last seq where the ids agree, first where they differ] and answers
  the same way. When the interval is one seq wide, each sends its entry there and asks
  for the other's: both can then prove the fork at the exact seq where the chains part.
  A chain of n entries takes at most ⌈log(n) / log(sync_samples_max + 1)⌉ + 1 messages
  each way (two for any n up to 65 792, three up to 16.9 million).
- A session is done when the last message each way was `{}`; a malformed message ends it
  (ProtocolError); a bad entry inside a well-formed one is rejected alone.
"""

import operator
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from . import cbor, limits
from .errors import Malformed, ProtocolError
from .identity import hash32
from .log import ForkProof
from .replica import Applied, Heads, Replica
from .schema import INT63_LIMIT, Fields, as_bytes32

EMPTY = cbor.encode({})
MESSAGE_KEYS = {0: "heads", 1: "entries", 2: "forks", 3: "wants", 4: "samples", 5: "clock"}
# CBOR framing an entry or an id costs inside a message, at most (a byte-string header).
_ITEM_OVERHEAD = 9

Samples = dict[bytes, list[tuple[int, bytes]]]


@dataclass(slots=True)
class SyncMessage:
    heads: Heads | None = None
    entries: list[bytes] = field(default_factory=list)
    forks: list[tuple[bytes, bytes]] = field(default_factory=list)
    wants: list[bytes] = field(default_factory=list)
    samples: Samples = field(default_factory=dict)
    clock: int | None = None

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
        if self.samples:
            out[4] = {a: [[seq, i] for seq, i in pairs] for a, pairs in self.samples.items()}
        if self.clock is not None:
            out[5] = self.clock
        return cbor.encode(out)

    @property
    def empty(self) -> bool:
        return (
            self.heads is None
            and not (self.entries or self.forks or self.wants or self.samples)
            and (self.clock is None)
        )


def entries_beyond(these: Heads, those: Heads) -> dict[bytes, int]:
    """Per author: how many entries `these` heads hold beyond `those` (what `those` lacks)."""
    return {a: seq - those.get(a, (0, b""))[0] for a, (seq, _) in these.items() if seq > those.get(a, (0, b""))[0]}


def _seq_id(value: Any, what: str) -> tuple[int, bytes]:
    if type(value) is not list or len(value) != 2 or type(value[0]) is not int or not 1 <= value[0] < INT63_LIMIT:
        raise Malformed(f"{what} is [seq from 1 to 2^63 - 1, id]")
    return value[0], as_bytes32(value[1], f"{what} id")


def _blob(value: Any) -> bytes:
    if type(value) is not bytes:
        raise Malformed("an entry in a sync message is a byte string")
    return value


def _pair(value: Any) -> tuple[bytes, bytes]:
    if type(value) is not list or len(value) != 2:
        raise Malformed("a fork proof is [entry, entry]")
    return _blob(value[0]), _blob(value[1])


def _author_map(value: Any, what: str, authors_max: int) -> dict[bytes, Any]:
    if type(value) is not dict or len(value) > authors_max:
        raise Malformed(f"{what} must be a map of at most {authors_max} authors")
    return {as_bytes32(a, f"{what} author"): v for a, v in value.items()}


def _samples(value: Any) -> Samples:
    out: Samples = {}
    for author, pairs in _author_map(value, "samples", limits.sync_sample_authors_max).items():
        if type(pairs) is not list or not 0 < len(pairs) <= limits.sync_samples_max:
            raise Malformed(f"samples of one author are 1 to {limits.sync_samples_max} [seq, id] pairs")
        read = [_seq_id(p, "a sample") for p in pairs]
        if any(a[0] >= b[0] for a, b in pairwise(read)):
            raise Malformed("samples are in ascending seq order, each seq once")
        out[author] = read
    return out


def decode_message(data: bytes) -> SyncMessage:
    if data == EMPTY:  # half of all messages: the canonical empty map needs no decoding
        return SyncMessage()
    fields = Fields(cbor.decode(data, limits.sync_message_bytes_max), "sync message", MESSAGE_KEYS)
    heads = fields.raw(0, required=False)
    samples = fields.raw(4, required=False)
    return SyncMessage(
        heads=None
        if heads is None
        else {a: _seq_id(h, "a head") for a, h in _author_map(heads, "heads", limits.roster_members_max).items()},
        entries=list(fields.array(1, _blob, limits.sync_batch_entries_max)),
        forks=list(fields.array(2, _pair, limits.sync_forks_max)),
        wants=list(fields.array(3, lambda v: as_bytes32(v, "want"), limits.sync_wants_max, sorted_unique=True)),
        samples={} if samples is None else _samples(samples),
        clock=fields.uint(5, required=False),
    )


@dataclass(slots=True)
class _Descent:
    """Where our chain of one author and the peer's part: in (lo, hi]."""

    lo: int
    hi: int
    their_hi_id: bytes
    finished: bool = False


@dataclass(slots=True)
class SyncState:
    """What we know of one peer during one session."""

    their_heads: Heads | None = None
    their_wants: list[bytes] = field(default_factory=list)  # still to serve
    sent_upto: dict[bytes, int] = field(default_factory=dict)
    last_sent_heads: Heads | None = None
    sent_proofs: set[tuple[bytes, int]] = field(default_factory=set)
    sent_wants: set[bytes] = field(default_factory=set)
    descents: dict[bytes, _Descent] = field(default_factory=dict)
    samples_due: set[bytes] = field(default_factory=set)  # authors whose samples we owe
    probes_due: list[tuple[bytes, int]] = field(default_factory=list)  # our entries to send: (author, seq)
    clock_sent: bool = False
    peer_quiet: bool = False
    looked: tuple[Heads, Heads] | None = None  # their heads and ours when descents were last sought


@dataclass(slots=True)
class Received:
    applied: list[Applied] = field(default_factory=list)
    rejected: list[ProtocolError] = field(default_factory=list)
    samples: int = 0  # authors whose fork-descent samples came


class _Budget:
    """What is left of one message for entries and proofs."""

    def __init__(self) -> None:
        self.entries = limits.sync_batch_entries_max
        self.bytes = limits.sync_batch_bytes_max

    def take(self, blobs: list[bytes]) -> bool:
        cost = sum(len(b) + _ITEM_OVERHEAD for b in blobs)
        if len(blobs) > self.entries or cost > self.bytes:
            return False
        self.entries -= len(blobs)
        self.bytes -= cost
        return True


# --- fork descent ---


def _narrow(replica: Replica, state: SyncState, author: bytes, pairs: list[tuple[int, bytes]]) -> None:
    """Compare the peer's ids of its chain with ours; narrow (lo, hi] and plan the reply."""
    length = replica.log.chain_length(author)
    descent = state.descents.get(author)
    lo, hi, hi_id = (0, None, b"") if descent is None else (descent.lo, descent.hi, descent.their_hi_id)
    if descent is not None and descent.finished:
        return
    for seq, their_id in pairs:
        if seq > length:
            break
        if replica.log.id_at(author, seq) == their_id:
            lo = max(lo, seq)
        elif hi is None or seq < hi:
            hi, hi_id = seq, their_id
    if hi is None or hi <= lo:
        return  # no difference within our chain, or a peer whose ids contradict themselves
    state.descents[author] = _Descent(lo, hi, hi_id)
    _plan(state, author)


def _plan(state: SyncState, author: bytes) -> None:
    descent = state.descents[author]
    if descent.hi == descent.lo + 1:
        descent.finished = True
        state.probes_due.append((author, descent.hi))
    else:
        state.samples_due.add(author)


def _start_descents(replica: Replica, state: SyncState) -> None:
    """Where the peer's head id differs from ours at that seq, our chains part below it.
    Only when its heads or our log changed since the last look (our heads map is new then)."""
    assert state.their_heads is not None
    looked = (state.their_heads, replica.log.heads())
    if state.looked is not None and all(map(operator.is_, looked, state.looked)):
        return
    state.looked = looked
    for author, (seq, their_id) in sorted(state.their_heads.items()):
        if author in state.descents or seq > replica.log.chain_length(author):
            continue
        if replica.log.id_at(author, seq) != their_id:
            state.descents[author] = _Descent(0, seq, their_id)
            _plan(state, author)


def _sample_seqs(lo: int, hi: int) -> list[int]:
    """Up to sync_samples_max seqs in (lo, hi], evenly spaced, hi always among them."""
    inner = min(limits.sync_samples_max - 1, hi - lo - 1)
    return [lo + j * (hi - lo) // (inner + 1) for j in range(1, inner + 1)] + [hi]


def _add_descent(replica: Replica, state: SyncState, out: SyncMessage, budget: _Budget) -> None:
    for author in sorted(state.samples_due)[: limits.sync_sample_authors_max]:
        descent = state.descents[author]
        out.samples[author] = [(s, replica.log.id_at(author, s) or b"") for s in _sample_seqs(descent.lo, descent.hi)]
        state.samples_due.discard(author)
    waiting = []
    for author, seq in state.probes_due:
        ours = replica.store.entries_after(author, seq - 1, 1)
        if not budget.take(ours):
            waiting.append((author, seq))
            continue
        out.entries.extend(ours)
        want = state.descents[author].their_hi_id
        if want not in state.sent_wants and len(out.wants) < limits.sync_wants_max:
            out.wants.append(want)
            state.sent_wants.add(want)
    state.probes_due = waiting


# --- building a message ---


def _add_proofs(replica: Replica, state: SyncState, out: SyncMessage, budget: _Budget) -> None:
    for proof in replica.log.proofs():
        if len(out.forks) >= limits.sync_forks_max:
            return
        if (proof.author, proof.seq) in state.sent_proofs or not budget.take([proof.first.signed, proof.second.signed]):
            continue
        state.sent_proofs.add((proof.author, proof.seq))
        out.forks.append((proof.first.signed, proof.second.signed))


def _add_wanted(replica: Replica, state: SyncState, out: SyncMessage, budget: _Budget) -> None:
    """The entries the peer asked for by id; what does not fit waits for the next message."""
    waiting = []
    for wanted in state.their_wants:
        blob = replica.store.entry_by_id(wanted)
        if blob is None:
            continue
        if not budget.take([blob]):
            waiting.append(wanted)
            continue
        out.entries.append(blob)
    state.their_wants = waiting


def _missing(replica: Replica, state: SyncState, heads: Heads, out: SyncMessage, budget: _Budget) -> None:
    """Add the entries the peer lacks, fairly across authors, within the budget."""
    assert state.their_heads is not None
    their = state.their_heads

    def start(author: bytes) -> int:
        return max(their.get(author, (0, b""))[0], state.sent_upto.get(author, 0))

    lacking = [a for a, (seq, _) in sorted(heads.items()) if seq > start(a) and a not in state.descents]
    while lacking and budget.entries > 0:
        share = max(1, budget.entries // len(lacking))
        for author in list(lacking):
            first = start(author)
            batch = replica.store.entries_after(author, first, min(share, budget.entries, heads[author][0] - first))
            taken = 0
            for blob in batch:
                if not budget.take([blob]):
                    break
                out.entries.append(blob)
                taken += 1
            state.sent_upto[author] = first + taken
            if first + taken >= heads[author][0] or taken < len(batch) or not batch:
                lacking.remove(author)
            if budget.entries <= 0:
                return


def generate_message(replica: Replica, state: SyncState, now_ms: int) -> bytes | None:
    """The next message for the peer, or None when we have nothing new to say."""
    heads = replica.log.heads()
    out = SyncMessage()
    if heads != state.last_sent_heads:
        out.heads = state.last_sent_heads = heads
    if not state.clock_sent:
        out.clock, state.clock_sent = now_ms, True
    budget = _Budget()
    _add_proofs(replica, state, out, budget)
    if state.their_heads is not None:
        _start_descents(replica, state)
    _add_descent(replica, state, out, budget)
    room = limits.sync_wants_max - len(out.wants)
    asked = sorted(replica.log.wants - state.sent_wants)[:room]
    out.wants.extend(asked)
    state.sent_wants.update(asked)
    _add_wanted(replica, state, out, budget)
    if state.their_heads is not None:
        _missing(replica, state, heads, out, budget)
    return None if out.empty else out.encode()


def receive_message(replica: Replica, state: SyncState, data: bytes, now_ms: int, peer: str = "") -> Received:
    """Apply a message from the peer. A malformed message raises ProtocolError (end the
    session); a bad entry inside a well-formed one is rejected alone and reported."""
    message = decode_message(data)
    state.peer_quiet = message.empty
    if message.heads is not None:
        state.their_heads = message.heads
        replica.heard_heads(peer, message.heads)
    if message.clock is not None:
        replica.heard_clock(peer, message.clock, now_ms)
    state.their_wants.extend(w for w in message.wants if w not in state.their_wants)
    del state.their_wants[limits.sync_wants_max :]
    received = Received()
    entries = []
    for blob in message.entries:
        if replica.store.holds(hash32(blob)):
            # Already stored (several members catching us up at once send the same
            # entries): a hash and a lookup instead of a decode and a signature check.
            continue
        try:
            entries.append(replica.decode(blob))
        except ProtocolError as exc:
            received.rejected.append(exc)
    applied, too_early = replica.receive_many(entries, now_ms)
    received.applied.extend(applied)
    received.rejected.extend(too_early)
    for first, second in message.forks:
        try:
            proof = ForkProof.of(replica.decode(first), replica.decode(second))
        except ProtocolError as exc:
            received.rejected.append(exc)
            continue
        received.applied.append(replica.receive_proof(proof))
    for author, pairs in sorted(message.samples.items()):
        _narrow(replica, state, author, pairs)
    received.samples = len(message.samples)
    return received


class Session:
    """One session's turn-taking (SPEC.md §5.1): strict alternation, the dialer first; it is
    done once the last message each way was `{}`, and then tells the replica (the write
    gate counts a completed session). `peer` names the peer to the write gate."""

    def __init__(self, peer: str, dialer: bool) -> None:
        self.peer = peer
        self.state = SyncState()
        self.my_turn = dialer
        self.messages = 0
        self._sent_empty = False
        self._received_empty = False

    @property
    def done(self) -> bool:
        return self._sent_empty and self._received_empty

    def _count(self) -> None:
        assert not self.done, "the session is over"
        self.messages += 1
        if self.messages > limits.sync_session_messages_max:
            raise Malformed(f"a sync session of more than {limits.sync_session_messages_max} messages")
        self.my_turn = not self.my_turn

    def outgoing(self, replica: Replica, now_ms: int) -> bytes:
        assert self.my_turn, "not our turn to send"
        self._count()
        data = generate_message(replica, self.state, now_ms) or EMPTY
        self._sent_empty = data == EMPTY
        if self.done:
            replica.session_completed()
        return data

    def incoming(self, replica: Replica, data: bytes, now_ms: int) -> Received:
        assert not self.my_turn, "not the peer's turn to send"
        self._count()
        received = receive_message(replica, self.state, data, now_ms, self.peer)
        self._received_empty = self.state.peer_quiet
        if self.done:
            replica.session_completed()
        return received


@dataclass(slots=True)
class SessionStats:
    messages: int = 0
    bytes: int = 0
    descents: int = 0  # messages that carried fork-descent samples

    @property
    def round_trips(self) -> float:
        return self.messages / 2


def run_session(
    a: Replica, b: Replica, now_ms: int, b_now_ms: int | None = None, names: tuple[str, str] = ("a", "b")
) -> SessionStats:
    """Drive one session between two in-memory replicas (tests and the simulator), A
    dialling, exactly as the node does over a stream. `b_now_ms` is B's clock when it
    differs from A's (clock skew); `names` are how each side names the other."""
    sides = ((a, Session(names[1], dialer=True), now_ms), (b, Session(names[0], dialer=False), b_now_ms or now_ms))
    stats = SessionStats()
    sender = 0
    while not (sides[0][1].done and sides[1][1].done):
        (me, mine, my_now), (peer, theirs, their_now) = sides[sender], sides[1 - sender]
        data = mine.outgoing(me, my_now)
        stats.messages += 1
        stats.bytes += len(data)
        stats.descents += bool(theirs.incoming(peer, data, their_now).samples)
        sender = 1 - sender
    return stats
