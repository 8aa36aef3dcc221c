"""The roster fold: a quorum admits, revokes and rotates; order of arrival does not matter."""

import itertools

import pytest

from protocol.charter import Action, Approval, Proposal, Quorum, rotation_proof
from protocol.entry import create, decode
from protocol.errors import InvalidField, Revoked
from protocol.governance import Genesis, Governance
from protocol.identity import Identity
from protocol.memory_store import MemoryStore
from protocol.replica import Replica
from protocol.roster import Member, Roster

from .factories import NOW_MS, open_body

KEYS = [Identity(bytes([i + 1]) * 32) for i in range(6)]
COUNTRIES = ["BE", "NL", "DE", "FR", "PL", "CZ"]


def member(i: int) -> Member:
    return Member(f"OC {COUNTRIES[i]}", COUNTRIES[i], KEYS[i].public_key)


def genesis(n: int = 5) -> Genesis:
    g = Genesis(tuple(member(i) for i in range(n)), Quorum(2, 3))
    for i in range(n):
        g = g.signed_by(KEYS[i])
    return g.check()


def entry(i: int, body, seq: int = 1):
    return create(KEYS[i], seq, None if seq == 1 else b"\0" * 32, 1000 + i, body)


def admit_sixth(base: bytes) -> Proposal:
    return Proposal(base, Action.ADMIT, KEYS[5].public_key, "OC CZ", "CZ")


def test_a_genesis_lacking_a_founders_signature_is_refused():
    g = Genesis(tuple(member(i) for i in range(3)), Quorum(2, 3)).signed_by(KEYS[0])
    with pytest.raises(InvalidField, match="lacks the signature"):
        g.check()
    assert Genesis.from_json(genesis().to_json()).check().id == genesis().id


def test_a_quorum_admits_a_member_in_any_order_and_short_of_it_nothing_changes():
    g = genesis()
    proposal = entry(0, admit_sixth(g.id))
    approvals = [entry(i, Approval(proposal.id)) for i in (1, 2, 3)]
    short = Governance(g)
    for e in [proposal, *approvals[:2]]:  # 3 of 5: below ceil(5 * 2/3) = 4
        short.add(e)
    assert KEYS[5].public_key not in short.fold().members
    folds = set()
    for order in itertools.permutations([proposal, *approvals]):
        gov = Governance(g)
        for e in order:
            gov.add(e)
        state = gov.fold()
        folds.add((state.version, tuple(sorted(state.members))))
    assert len(folds) == 1 and KEYS[5].public_key in dict.fromkeys(next(iter(folds))[1])


def test_a_revocation_names_the_last_accepted_seq_and_a_handover_rotates_a_key_alone():
    g = genesis()
    revoke = entry(0, Proposal(g.id, Action.REVOKE, KEYS[4].public_key, last_seq=7))
    gov = Governance(g)
    for e in [revoke, *(entry(i, Approval(revoke.id)) for i in (1, 2, 3))]:
        gov.add(e)
    state = gov.fold()
    assert KEYS[4].public_key not in state.members and state.former[KEYS[4].public_key][1] == 7
    new = Identity(b"\x99" * 32)
    proof = rotation_proof(new, KEYS[1].public_key)
    gov.add(
        entry(
            1,
            Proposal(state.version, Action.ROTATE, KEYS[1].public_key, last_seq=3, new_key=new.public_key, proof=proof),
            seq=2,
        )
    )
    rotated = gov.fold()
    assert new.public_key in rotated.members and rotated.members[new.public_key].country == "NL"
    assert rotated.former[KEYS[1].public_key][1] == 3


def governed(n: int = 3):
    """n replicas on one genesis, each with its own live roster and governance fold."""
    g = genesis(n)
    return g, [
        Replica(MemoryStore(), Roster(g.members), KEYS[i], governance=Governance(g), random_bytes=lambda k: b"\1" * k)
        for i in range(n)
    ]


def deliver(entries, to):
    for e in entries:
        to.receive(decode(e.signed, to.roster), NOW_MS)


def test_a_replica_that_held_a_revoked_members_later_entries_lets_go_of_them_when_the_revocation_folds_in():
    g, (a, b, c) = governed(3)
    early = c.write(open_body("Before"), NOW_MS)
    late = [c.write(open_body("After"), NOW_MS + 1), c.write(open_body("Later"), NOW_MS + 2)]
    deliver([early, *late], a)  # a heard them before the revocation (it was cut off from b)
    assert len(a.incidents) == 3
    revoke = b.write(Proposal(g.id, Action.REVOKE, KEYS[2].public_key, last_seq=1), NOW_MS + 3)
    deliver([revoke], a)
    assert KEYS[2].public_key in a.roster  # one signature of the two a quorum of 3 needs
    approval = a.write(Approval(revoke.id), NOW_MS + 4)
    assert a.charter is not None and a.charter.in_force == (revoke.id,)
    assert KEYS[2].public_key not in {m.public_key for m in a.roster}
    assert a.log.head(KEYS[2].public_key)[0] == 1 and set(a.incidents) == {early.id}
    assert [e.seq for e in a.store.chained[KEYS[2].public_key]] == [1]
    with pytest.raises(Revoked):
        decode(late[0].signed, a.roster)
    deliver([early, approval], b)  # b learns it second: the same roster, the same log
    assert b.charter == a.charter and b.log.heads() == a.log.heads()


def test_restoring_a_replica_folds_governance_and_names_the_members_it_admitted():
    g, (a, b, c) = governed(3)
    newcomer = KEYS[3]
    admit = a.write(Proposal(g.id, Action.ADMIT, newcomer.public_key, "OC FR", "FR"), NOW_MS)
    deliver([admit, b.write(Approval(admit.id), NOW_MS + 1)], c)
    assert newcomer.public_key in c.roster
    restored = Replica(c.store, Roster(g.members), KEYS[2], governance=Governance(g))
    assert restored.restore(c.store.all_chained(), []) and restored.charter == c.charter
