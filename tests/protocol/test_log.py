from protocol import limits
from protocol.log import Status
from protocol.memory_store import MemoryStore
from protocol.replica import Replica

from .factories import NOW_MS, comment_body, open_body, replicas, roster_of


def authored(n: int):
    """n entries of member 0's log, written on a scratch replica."""
    writer = replicas(1)[0]
    first = writer.write(open_body(), NOW_MS)
    return [first] + [writer.write(comment_body(first.id, i), NOW_MS + i) for i in range(n - 1)]


def fresh() -> Replica:
    _, roster = roster_of(2)
    return Replica(MemoryStore(), roster)


def test_an_entry_that_arrives_before_its_predecessor_waits_then_links():
    entries = authored(4)
    r = fresh()
    assert r.receive(entries[2], NOW_MS).status is Status.PENDING
    assert r.receive(entries[3], NOW_MS).status is Status.PENDING
    assert r.log.head(entries[0].author)[0] == 0
    assert r.receive(entries[0], NOW_MS).status is Status.APPENDED
    applied = r.receive(entries[1], NOW_MS)
    assert [e.seq for e in applied.stored] == [2, 3, 4]
    assert r.log.head(entries[0].author) == (4, entries[3].id)
    assert r.log.pending_count() == 0


def test_a_duplicate_changes_nothing():
    entries = authored(2)
    r = fresh()
    r.receive(entries[0], NOW_MS)
    assert r.receive(entries[0], NOW_MS).status is Status.DUPLICATE
    assert len(r.store.by_id) == 1


def test_the_pending_set_is_bounded_per_author():
    entries = authored(limits.pending_entries_per_author_max + 3)
    r = fresh()
    statuses = [r.receive(e, NOW_MS).status for e in entries[2:]]
    assert statuses.count(Status.PENDING) == limits.pending_entries_per_author_max
    assert statuses[-1] is Status.PENDING_FULL


def test_a_fork_is_proven_and_excludes_the_author_from_the_fork_on():
    base = authored(2)
    a, b = replicas(1)[0], replicas(1)[0]  # two devices holding the same key
    for r in (a, b):
        for e in base:
            r.receive(e, NOW_MS)
    left = a.write(comment_body(base[0].id, 100), NOW_MS + 50)
    right = b.write(comment_body(base[0].id, 200), NOW_MS + 60)
    observer = fresh()
    for e in [*base, left]:
        observer.receive(e, NOW_MS + 100)
    assert len(observer.incidents[base[0].id].view()["comments"]) == 2
    applied = observer.receive(right, NOW_MS + 100)
    assert applied.status is Status.FORK
    assert applied.fork == (left.author, 3)
    assert len(observer.incidents[base[0].id].view()["comments"]) == 1
    assert observer.log.head(left.author) == (2, base[1].id)
    assert observer.store.proofs[left.author].seq == 3


def test_an_entry_whose_prev_does_not_link_proves_a_fork_at_the_seq_below():
    base = authored(2)
    a, b = replicas(1)[0], replicas(1)[0]
    for e in base:
        a.receive(e, NOW_MS)
    b.receive(base[0], NOW_MS)
    other = b.write(comment_body(base[0].id, 9), NOW_MS + 1)  # seq 2, differs from base[1]
    following = b.write(comment_body(base[0].id, 10), NOW_MS + 2)  # seq 3, prev = other
    applied = a.receive(following, NOW_MS + 5)
    assert applied.fork == (following.author, 2)
    assert other.id in a.log.wants


def test_restart_rebuilds_the_same_log_and_state_from_the_store():
    entries = authored(5)
    r = fresh()
    for e in reversed(entries):
        r.receive(e, NOW_MS)
    again = Replica(r.store, r.roster)
    again.restore(r.store.all_chained(), r.store.proofs.values())
    assert again.log.heads() == r.log.heads()
    assert again.incidents == r.incidents


def test_two_different_entries_waiting_at_one_seq_prove_a_fork_at_once():
    base = authored(1)
    a, b = replicas(1)[0], replicas(1)[0]  # two devices with one key
    for r in (a, b):
        r.receive(base[0], NOW_MS)
    left = [a.write(comment_body(base[0].id, 100 + i), NOW_MS + 10 + i) for i in range(2)]
    right = [b.write(comment_body(base[0].id, 200 + i), NOW_MS + 10 + i) for i in range(2)]
    observer = fresh()
    assert observer.receive(left[1], NOW_MS + 100).status is Status.PENDING
    applied = observer.receive(right[1], NOW_MS + 100)  # seq 3 again, another id
    assert applied.status is Status.FORK and applied.fork == (base[0].author, 3)
