"""The roster fold: a quorum admits, revokes and rotates; order of arrival does not matter."""

import itertools

import pytest

from protocol.charter import Action, Approval, Proposal, Quorum, rotation_proof
from protocol.entry import create
from protocol.errors import InvalidField
from protocol.governance import Genesis, Governance
from protocol.identity import Identity
from protocol.roster import Member

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
