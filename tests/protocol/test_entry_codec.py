import contextlib

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import cbor, limits
from protocol.body import Kind
from protocol.entry import EXERCISE, create, decode, restore
from protocol.errors import (
    BadSignature,
    InvalidField,
    Malformed,
    NonCanonical,
    ProtocolError,
    Revoked,
    TooLarge,
    UnknownAuthor,
)
from protocol.identity import Identity, peer_id_of
from protocol.roster import Roster

from .factories import NOW_MS, comment_body, identity, open_body, replicas, roster_of
from .strategies import any_char, bodies, raw_bodies, valid_text

IDS, ROSTER = roster_of(3)


def signed(body=None, seq=1, prev=None, author=0, exercise=None):
    return create(IDS[author], seq, prev, NOW_MS << 16, body or open_body(), exercise)


@given(bodies, st.integers(1, 2**40), st.none() | valid_text(EXERCISE, 20), st.integers(0, 2**63 - 1))
def test_every_entry_round_trips_through_its_encoding(body, seq, exercise, hlc):
    prev = None if seq == 1 else bytes(32)
    entry = create(IDS[0], seq, prev, hlc, body, exercise)
    again = decode(entry.signed, ROSTER)
    assert again == entry
    assert again.kind is body.kind


@settings(max_examples=300)
@given(raw_bodies(), st.none() | st.text(any_char, max_size=12))
def test_whatever_a_replica_agrees_to_write_every_member_decodes(build, exercise):
    replica = replicas(1)[0]
    try:
        entry = replica.write(build(), NOW_MS, exercise)
    except InvalidField:
        assert replica.log.heads() == {} and not replica.store.by_id  # refused: nothing changed
        return
    assert decode(entry.signed, replica.roster) == entry


@settings(max_examples=500)
@given(st.binary(max_size=600))
def test_random_bytes_only_ever_raise_the_decoder_error_family(data):
    with pytest.raises(ProtocolError):
        decode(data, ROSTER)


@settings(max_examples=300)
@given(bodies, st.data())
def test_mutated_entries_only_ever_raise_the_decoder_error_family(body, data):
    raw = bytearray(signed(body).signed)
    for _ in range(data.draw(st.integers(1, 4))):
        choice = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        at = data.draw(st.integers(0, len(raw) - 1)) if raw else 0
        if choice == "flip" and raw:
            raw[at] ^= 1 << data.draw(st.integers(0, 7))
        elif choice == "insert":
            raw.insert(at, data.draw(st.integers(0, 255)))
        elif choice == "delete" and raw:
            del raw[at]
        else:
            del raw[at:]
    with contextlib.suppress(ProtocolError):
        decode(bytes(raw), ROSTER)


@given(bodies, st.data())
def test_flipping_any_bit_of_a_signed_entry_fails_verification(body, data):
    raw = bytearray(signed(body).signed)
    bit = data.draw(st.integers(0, len(raw) * 8 - 1))
    raw[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(ProtocolError):
        decode(bytes(raw), ROSTER)


def test_an_entry_signed_by_a_non_member_is_refused():
    outsider = create(Identity(b"\x99" * 32), 1, None, NOW_MS << 16, open_body())
    with pytest.raises(UnknownAuthor):
        decode(outsider.signed, ROSTER)


def test_a_signature_from_another_member_does_not_verify():
    content, _ = cbor2.loads(signed(author=0).signed)
    forged = cbor.encode([content, IDS[1].sign(b"qroc-mesh/entry/v1\x00", content)])
    with pytest.raises(BadSignature):
        decode(forged, ROSTER)


def test_non_canonical_encodings_are_rejected_even_with_a_valid_signature():
    entry = signed()
    content_map = cbor2.loads(cbor2.loads(entry.signed)[0])
    # Same value, keys in descending order: still valid CBOR, not the deterministic form.
    reordered = cbor2.dumps(dict(sorted(content_map.items(), reverse=True)))
    resigned = cbor2.dumps([reordered, IDS[0].sign(b"qroc-mesh/entry/v1\x00", reordered)])
    with pytest.raises(NonCanonical):
        decode(resigned, ROSTER)
    long_header = bytes([0x82, 0x59]) + len(cbor2.loads(entry.signed)[0]).to_bytes(2, "big")
    with pytest.raises((NonCanonical, Malformed)):
        decode(long_header + entry.signed[3:], ROSTER)


def test_oversized_input_is_refused_before_decoding():
    with pytest.raises(TooLarge):
        decode(b"\x80" * (limits.entry_bytes_max + 1), ROSTER)


def test_deep_nesting_is_refused():
    with pytest.raises(Malformed):
        decode(b"\x81" * 5000 + b"\x00", ROSTER)


def test_entry_id_is_the_hash_of_the_signed_encoding():
    import hashlib

    entry = signed()
    assert entry.id == hashlib.blake2b(entry.signed, digest_size=32).digest()
    assert entry.kind is Kind.OPEN and entry.incident == entry.id


def test_peer_id_matches_libp2p_for_the_same_seed():
    from libp2p.identity_utils import create_identity_from_seed
    from libp2p.peer.id import ID

    seed = b"\x07" * 32
    key_pair = create_identity_from_seed(seed)
    assert peer_id_of(Identity(seed).public_key) == ID.from_pubkey(key_pair.public_key).to_base58()


def test_a_roster_finds_members_by_key_and_peer_id():
    member = next(iter(ROSTER))
    assert ROSTER.get(member.public_key) is member
    assert ROSTER.by_peer_id(member.peer_id) is member
    assert len(Roster([*ROSTER, member])) == len(ROSTER)  # a member once, however often listed
    assert identity(0).public_key in ROSTER


def test_a_null_where_a_field_is_absent_is_refused_a_second_encoding_of_one_entry():
    entry = signed()
    content = cbor2.loads(cbor2.loads(entry.signed)[0])
    for where, value in ((7, None), (6, {**content[6], 4: None})):
        twin = cbor.encode({**content, where: value})
        envelope = cbor.encode([twin, IDS[0].sign(b"qroc-mesh/entry/v1\x00", twin)])
        with pytest.raises(InvalidField, match="null"):
            decode(envelope, ROSTER)


def chain_of(n: int, operator: str = "Jana Novák"):
    opening = create(IDS[0], 1, None, NOW_MS << 16, open_body(), operator=operator)
    chain = [opening]
    for seq in range(2, n + 1):
        chain.append(
            create(IDS[0], seq, chain[-1].id, (NOW_MS << 16) + seq, comment_body(opening.id, seq), operator=operator)
        )
    return chain


def restored(chain, roster=ROSTER):
    return [restore(entry.signed, entry.id, roster) for entry in chain]


def test_an_entry_restored_from_our_store_equals_the_one_decoded_but_leaves_its_bytes_there():
    chain = chain_of(3)
    for entry, again in zip(chain, restored(chain), strict=True):
        assert again == entry == decode(entry.signed, ROSTER)
        assert again.signed == b"" and again.id == entry.id


def test_restoring_refuses_what_the_roster_no_longer_accepts():
    chain = chain_of(3)
    others = [m for m in ROSTER if m.public_key != IDS[0].public_key]
    revoked_after_seq_2 = Roster(others, {IDS[0].public_key: (ROSTER.get(IDS[0].public_key), 2)})
    assert restored(chain[:2], revoked_after_seq_2) == chain[:2]
    with pytest.raises(Revoked):
        restored(chain, revoked_after_seq_2)
    with pytest.raises(UnknownAuthor):
        restored(chain, Roster(others))
