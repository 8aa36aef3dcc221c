import hashlib
import itertools
import json

import cbor2
import nacl.signing

from protocol.entry import ENTRY_DOMAIN, decode
from protocol.identity import Identity
from protocol.roster import Member, Roster

from .vectors import SEED, diag, in_spec, render


def test_the_spec_vectors_match_the_reference_implementation():
    assert json.loads(in_spec()) == json.loads(render())


def test_the_spec_vectors_check_out_with_plain_pynacl_and_hashlib():
    vectors = json.loads(in_spec())
    key = nacl.signing.SigningKey(bytes.fromhex(vectors["seed_hex"]))
    assert bytes(key.verify_key).hex() == vectors["public_key_hex"]
    assert ENTRY_DOMAIN == b"qroc-mesh/entry/v1\x00"
    for v in vectors["entries"]:
        content = bytes.fromhex(v["content_hex"])
        assert key.sign(b"qroc-mesh/entry/v1\x00" + content).signature.hex() == v["signature_hex"]
        envelope = bytes.fromhex(v["entry_hex"])
        assert cbor2.loads(envelope) == [content, bytes.fromhex(v["signature_hex"])]
        assert hashlib.blake2b(envelope, digest_size=32).hexdigest() == v["id_hex"]
        assert diag(cbor2.loads(content)) == v["content"]


def test_the_spec_vectors_decode_and_chain():
    vectors = json.loads(in_spec())
    roster = Roster([Member("OC Vector", "BE", Identity(SEED).public_key)])
    entries = [decode(bytes.fromhex(v["entry_hex"]), roster) for v in vectors["entries"]]
    assert [e.seq for e in entries] == [1, 2, 3, 4]
    assert all(later.prev == earlier.id for earlier, later in itertools.pairwise(entries))
    assert Identity(SEED).peer_id == vectors["peer_id"]
