import contextlib
import os

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from protocol import limits
from protocol.errors import IdentityForked, ProtocolError
from protocol.memory_store import MemoryStore
from protocol.replica import Replica
from protocol.sync import EMPTY, SyncMessage, SyncState, decode_message, generate_message, receive_message, run_session

from .factories import NOW_MS, comment_body, open_body, replicas, roster_of, update_body


def converge(group: list[Replica], now: int) -> None:
    for _ in range(3):
        for a in group:
            for b in group:
                if a is not b:
                    run_session(a, b, now)


def assert_identical(group: list[Replica]) -> None:
    first = group[0]
    for other in group[1:]:
        assert other.log.heads() == first.log.heads()
        assert other.incidents == first.incidents
        assert {i: s.view() for i, s in other.visible_incidents().items()} == {
            i: s.view() for i, s in first.visible_incidents().items()
        }


def test_one_round_trip_identifies_every_difference():
    a, b = replicas(2)
    incident = a.write(open_body(), NOW_MS).id
    for i in range(100):
        a.write(comment_body(incident, i), NOW_MS + i)
        b.write(comment_body(incident, 1000 + i), NOW_MS + i)
    sa, sb = SyncState(), SyncState()
    receive_message(b, sb, generate_message(a, sa), NOW_MS)  # A -> B: heads
    reply = generate_message(b, sb)  # B -> A: heads and all A lacks
    assert len(decode_message(reply).entries) == 100
    receive_message(a, sa, reply, NOW_MS)
    assert len(decode_message(generate_message(a, sa)).entries) == 101  # all B lacks
    assert a.log.heads()[b.identity.public_key][0] == 100


def test_batches_are_bounded_and_the_session_still_completes():
    a, b = replicas(2)
    incident = a.write(open_body(), NOW_MS).id
    for i in range(limits.sync_batch_entries_max * 2 + 10):
        a.write(comment_body(incident, i), NOW_MS)
    sa, sb = SyncState(), SyncState()
    receive_message(b, sb, generate_message(a, sa), NOW_MS)
    reply = generate_message(b, sb)
    assert reply is not None
    receive_message(a, sa, reply, NOW_MS)
    assert len(decode_message(generate_message(a, sa)).entries) == limits.sync_batch_entries_max
    stats = run_session(a, b, NOW_MS)
    assert b.log.heads() == a.log.heads()
    assert stats.round_trips <= 5


def test_a_hostile_entry_inside_a_sync_message_is_rejected_alone():
    a, b = replicas(2)
    good = a.write(open_body(), NOW_MS)
    state = SyncState()
    message = SyncMessage(heads={}, entries=[good.signed[:-1] + b"\x00", good.signed]).encode()
    received = receive_message(b, state, message, NOW_MS)
    assert len(received.rejected) == 1 and isinstance(received.rejected[0], ProtocolError)
    assert b.log.head(good.author) == (1, good.id)


def test_an_empty_message_is_the_empty_map():
    assert decode_message(EMPTY).empty


class Federation(RuleBasedStateMachine):
    """Replicas exchange entries by lossy gossip and by sync; one member forks sometimes."""

    @initialize(n=st.integers(2, 5))
    def setup(self, n):
        self.ids, roster = roster_of(n + 1)
        self.replicas = [Replica(MemoryStore(), roster, self.ids[i]) for i in range(n)]
        self.forker = [Replica(MemoryStore(), roster, self.ids[n]) for _ in range(2)]  # one key, two devices
        self.wire = []
        self.incidents = []
        self.now = NOW_MS

    @rule(who=st.integers(0, 10), kind=st.integers(0, 2), n=st.integers(0, 99))
    def write(self, who, kind, n):
        self.now += 7
        writer = self.replicas[who % len(self.replicas)]
        if kind == 0 or not self.incidents:
            entry = writer.write(open_body(f"incident {n}"), self.now)
            self.incidents.append(entry.id)
        elif kind == 1:
            entry = writer.write(update_body(self.incidents[n % len(self.incidents)], n), self.now)
        else:
            entry = writer.write(comment_body(self.incidents[n % len(self.incidents)], n), self.now)
        self.wire.append(entry)

    @rule(device=st.integers(0, 1), n=st.integers(0, 99))
    def forker_writes(self, device, n):
        self.now += 3
        # Once a device learns of its own fork it refuses to write on.
        with contextlib.suppress(IdentityForked):
            self.wire.append(self.forker[device].write(open_body(f"forked {n}"), self.now))

    @precondition(lambda self: self.wire)
    @rule(pick=st.integers(0, 999), to=st.integers(0, 10), fate=st.sampled_from(["deliver", "drop", "duplicate"]))
    def gossip(self, pick, to, fate):
        entry = self.wire[pick % len(self.wire)]
        if fate != "duplicate":
            self.wire.remove(entry)
        if fate != "drop":
            self.replicas[to % len(self.replicas)].receive(entry, self.now)

    @rule(a=st.integers(0, 10), b=st.integers(0, 10))
    def sync(self, a, b):
        a, b = self.replicas[a % len(self.replicas)], self.replicas[b % len(self.replicas)]
        if a is not b:
            run_session(a, b, self.now)

    @rule(device=st.integers(0, 1), to=st.integers(0, 10))
    def forker_syncs_one_way(self, device, to):
        """A forking member pushes its branch to one replica (it never listens back)."""
        run_session(self.forker[device], self.replicas[to % len(self.replicas)], self.now)

    @invariant()
    def bounded(self):
        for r in self.replicas:
            assert r.log.pending_count() <= limits.pending_entries_max

    def teardown(self):
        if not hasattr(self, "replicas"):
            return
        converge(self.replicas, self.now)
        assert_identical(self.replicas)
        written = {e.id for r in self.replicas for e in r.store.all_chained() if e.author != self.ids[-1].public_key}
        for r in self.replicas:
            assert written <= set(r.store.by_id), "an entry written by an honest member was lost"


Federation.TestCase.settings = settings(
    max_examples=int(os.environ.get("QROC_STATEFUL_EXAMPLES", "60")), stateful_step_count=40, deadline=None
)
TestFederationConverges = Federation.TestCase
