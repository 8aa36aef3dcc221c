"""SPEC.md §8's vectors: equal to what tests/protocol/vectors.py renders, and true of the
reference implementation and, where they can say, of plain PyNaCl, hashlib, cbor2 and
zstandard."""

import hashlib
import itertools
import json
import re
import string
from pathlib import Path
from typing import Any

import cbor2
import nacl.signing
import pytest
import zstandard

from protocol import limits, text
from protocol.entry import ENTRY_DOMAIN, Entry, decode
from protocol.errors import ProtocolError
from protocol.hlc import Hlc, pack
from protocol.incident import fold
from protocol.log import ForkProof
from protocol.media import decode_frame
from protocol.memory_store import MemoryStore
from protocol.planner import FetchPlanner, bitmap_mask
from protocol.replica import Replica
from protocol.roster import Member, Roster, check_country
from protocol.sync import decode_message, run_session
from protocol.text import Shape
from protocol.transfer import decode_request, decode_response

from .vectors import SPEC, diag, in_spec, parts_bytes, render, state_of

VECTORS: dict[str, Any] = json.loads(in_spec())
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def roster() -> Roster:
    return Roster([Member.from_card(m["card"]) for m in VECTORS["members"]])


def entries_of(hexes: list[str]) -> list[Entry]:
    members = roster()
    return [decode(bytes.fromhex(h), members) for h in hexes]


def plain_peer_id(public_key: bytes) -> str:
    """§2: base58btc of 00 24 08 01 12 20 || key, written out without protocol/."""
    data = bytes.fromhex("002408011220") + public_key
    number, out = int.from_bytes(data, "big"), ""
    while number:
        number, digit = divmod(number, 58)
        out = B58[digit] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def test_the_spec_vectors_match_the_reference_implementation():
    assert json.loads(render()) == VECTORS


def test_the_entries_check_out_with_plain_pynacl_and_hashlib():
    key = nacl.signing.SigningKey(bytes.fromhex(VECTORS["seed_hex"]))
    assert bytes(key.verify_key).hex() == VECTORS["public_key_hex"]
    assert ENTRY_DOMAIN == b"qroc-mesh/entry/v1\x00" and len(ENTRY_DOMAIN) == 19
    for v in VECTORS["entries"]:
        content = bytes.fromhex(v["content_hex"])
        assert key.sign(ENTRY_DOMAIN + content).signature.hex() == v["signature_hex"]
        envelope = bytes.fromhex(v["entry_hex"])
        assert cbor2.loads(envelope) == [content, bytes.fromhex(v["signature_hex"])]
        assert hashlib.blake2b(envelope, digest_size=32).hexdigest() == v["id_hex"]
        assert diag(cbor2.loads(content)) == v["content"]


def test_the_entries_decode_and_chain():
    entries = entries_of([v["entry_hex"] for v in VECTORS["entries"]])
    assert [e.seq for e in entries] == [1, 2, 3, 4]
    assert all(later.prev == earlier.id for earlier, later in itertools.pairwise(entries))
    assert plain_peer_id(bytes.fromhex(VECTORS["public_key_hex"])) == VECTORS["peer_id"]


def test_member_cards_give_their_key_and_peer_id():
    for m in VECTORS["members"]:
        member = Member.from_card(m["card"])
        assert member.public_key.hex() == m["public_key_hex"] == m["card"]["public_key"]
        assert member.peer_id == m["peer_id"] == plain_peer_id(member.public_key)
        assert m["peer_id"].startswith("12D3KooW")


def test_the_fold_gives_the_incident_state_in_any_order():
    vector = VECTORS["fold"]
    entries = entries_of([e["entry_hex"] for e in vector["entries"]])
    assert [e.id.hex() for e in entries] == [e["id_hex"] for e in vector["entries"]]
    incident = bytes.fromhex(vector["incident_hex"])
    for order in (entries, entries[::-1], entries[1::2] + entries[::2]):
        state = fold(list(order), incident)
        assert state_of(state.view(), state.live_tags(), entries) == vector["state"]
    replica = Replica(MemoryStore(), roster())  # through the log: all are canonical
    replica.receive_many(entries[::-1], VECTORS["clock_origin_ms"])
    state = replica.incidents[incident]
    assert state_of(state.view(), state.live_tags(), entries) == vector["state"]
    assert vector["state"]["status"] == "open"  # the opening's default beats the lower-hlc update


def test_a_fork_gets_its_verdict_in_every_order_of_arrival_and_after_one_sync():
    vector = VECTORS["fork"]
    entries = entries_of([e["entry_hex"] for e in vector["entries"]])
    named = dict(zip((e["name"] for e in vector["entries"]), entries, strict=True))
    author = bytes.fromhex(vector["author_hex"])
    now = VECTORS["clock_origin_ms"]
    with_verdict = Replica(MemoryStore(), roster())
    for entry in entries:
        with_verdict.receive(entry, now)
    assert with_verdict.log.fork_seq(author) == vector["verdict"]
    assert [with_verdict.log.head(author)[0], with_verdict.log.head(author)[1].hex()] == vector["head"]  # type: ignore[union-attr]
    assert len(vector["arrivals"]) == 24
    for arrival in vector["arrivals"]:
        replica = Replica(MemoryStore(), roster())
        statuses = [replica.receive(named[name], now).status.value for name in arrival["order"]]
        assert statuses == arrival["statuses"], arrival
        assert replica.log.fork_seq(author) == arrival["verdict"]
        seq, head_id = replica.log.head(author)
        assert [seq, head_id] == [arrival["head"][0], named[arrival["head"][1]].id]
        run_session(replica, with_verdict, now)  # the proof travels: one verdict everywhere
        assert replica.log.fork_seq(author) == vector["verdict"] == with_verdict.log.fork_seq(author)
        assert replica.log.heads() == with_verdict.log.heads()
    by_id = {e.id.hex(): e for e in entries}
    for proof in vector["proofs"]:
        first, second = by_id[proof["first_id_hex"]], by_id[proof["second_id_hex"]]
        assert (first.seq, first.id) < (second.seq, second.id)  # lower seq first, then lower id
        for pair in ((first, second), (second, first)):
            normal = ForkProof.of(*pair)
            assert (normal.first, normal.second, normal.seq) == (first, second, proof["fork_seq"])


def test_the_clock_ticks_and_observes_as_the_vectors_say():
    for case in VECTORS["hlc"]:
        clock = Hlc(pack(*case["before"]))
        if "reason" in case:
            with pytest.raises(ProtocolError) as refused:
                clock.observe(pack(*case["remote"]), case["now_ms"])
            assert refused.value.reason == case["reason"]
        elif case["op"] == "tick":
            clock.tick(case["now_ms"])
        else:
            clock.observe(pack(*case["remote"]), case["now_ms"])
        assert [clock.value >> 16, clock.value & 0xFFFF] == case["after"], case["what"]


def test_chunk_frames_decode_to_chunks_of_their_hash():
    for v in VECTORS["chunk_frames"]:
        frame, chunk = bytes.fromhex(v["frame_hex"]), bytes.fromhex(v["chunk_hex"])
        assert decode_frame(frame, v["length"]) == chunk and len(chunk) == v["length"]
        assert hashlib.blake2b(chunk, digest_size=32).hexdigest() == v["hash_hex"]
        if frame[0] == 1:  # plain zstandard reads the same chunk from the frame
            assert frame[1:5] == bytes.fromhex("28b52ffd")
            assert zstandard.get_frame_parameters(frame[1:]).content_size == len(chunk)
            assert zstandard.ZstdDecompressor().decompress(frame[1:]) == chunk
        else:
            assert frame[1:] == chunk


def test_transfer_messages_decode_as_the_vectors_say():
    for v in VECTORS["transfer"]:
        data = bytes.fromhex(v["hex"])
        assert diag(cbor2.loads(data)) == v["diag"]
        if v["message"] == "request":
            op, arg = decode_request(data)
            assert [op, arg.hex()] == v["decoded"]
        else:
            kind, value = decode_response(data)
            assert [kind, value if kind == 2 else bytes(value).hex()] == v["decoded"]
    bitmap = next(v for v in VECTORS["transfer"] if v["what"].startswith("bitmap"))
    held = bytes.fromhex(bitmap["decoded"][1])
    assert [i for i in range(10) if (held[i // 8] >> (i % 8)) & 1] == [0, 2, 9]
    assert [i for i in range(10) if bitmap_mask(held) >> i & 1] == [0, 2, 9]


def test_home_chunks_are_those_of_the_planner():
    vector = VECTORS["home_chunks"]
    manifest_id = bytes.fromhex(vector["manifest_hex"])
    assert vector["receivers"] == sorted(m["peer_id"] for m in VECTORS["members"] if m["peer_id"] != vector["author"])
    for home in vector["homes"]:
        shared = hashlib.blake2b(manifest_id + home["index"].to_bytes(4, "big"), digest_size=32).digest()
        assert shared.hex() == home["hash_hex"] and int.from_bytes(shared[:4], "big") == home["uint32be"]
        assert home["home"] == vector["receivers"][home["uint32be"] % len(vector["receivers"])]
    manifest = next(e for e in entries_of([e["entry_hex"] for e in VECTORS["fold"]["entries"]]) if e.id == manifest_id)
    peers = [m["peer_id"] for m in VECTORS["members"]]
    for me in vector["receivers"]:
        planner = FetchPlanner(lambda h: False, lambda k: vector["author"], me, lambda: peers, lambda i: None)
        assert planner.want(manifest, 3)
        home = planner.items[manifest_id].home
        assert [h["index"] for h in vector["homes"] if h["home"] == me] == [i for i in range(2) if home >> i & 1]


def test_sync_messages_decode_and_encode_back():
    for v in VECTORS["sync_messages"]:
        data = bytes.fromhex(v["hex"])
        assert diag(cbor2.loads(data)) == v["diag"]
        message = decode_message(data)
        assert message.encode() == data
        assert message.empty == (data == b"\xa0")


def decoder(vector: dict[str, Any]) -> Any:
    if vector["decoder"] == "member_card":
        return Member.from_card(vector["card"])
    data = parts_bytes(vector)
    if vector["decoder"] == "entry":
        return decode(data, roster())
    if vector["decoder"] == "sync_message":
        return decode_message(data)
    if vector["decoder"] == "chunk_frame":
        return decode_frame(data, vector["length"])
    if vector["decoder"] == "chunk_request":
        return decode_request(data)
    assert vector["decoder"] == "chunk_response", vector["decoder"]
    return decode_response(data)


REJECT = [
    pytest.param(v, id=v["what"], marks=[pytest.mark.xfail(strict=True, reason=v["known_deviation"])])
    if "known_deviation" in v
    else pytest.param(v, id=v["what"])
    for v in VECTORS["reject"]
]


@pytest.mark.parametrize("vector", REJECT)
def test_each_negative_vector_is_refused_with_its_reason(vector):
    with pytest.raises(ProtocolError) as refused:
        decoder(vector)
    assert refused.value.reason == vector["reason"]


def test_negative_entries_that_break_a_field_rule_carry_a_valid_signature():
    """So that only the rule can refuse them; the signer is checked with plain PyNaCl."""
    keys = {m["card"]["name"]: m["public_key_hex"] for m in VECTORS["members"]}
    keys = {"A": keys["OC Vector"], "stranger": VECTORS["stranger_public_key_hex"]}
    for v in VECTORS["reject"]:
        if v["decoder"] != "entry" or "hex" not in v:
            continue
        if v["reason"] in ("non_canonical", "malformed", "invalid_field", "unsupported_version", "unknown_author"):
            assert v["signed_by"] is not None or v["what"].startswith(("an envelope", "a signature")), v["what"]
        if v["signed_by"] is not None:
            content, signature = cbor2.loads(bytes.fromhex(v["hex"]))
            key = nacl.signing.VerifyKey(bytes.fromhex(keys[v["signed_by"]]))
            key.verify(ENTRY_DOMAIN + content, signature)


def read(value: Any, name: str) -> Any:
    for holder in (value, getattr(value, "body", None), getattr(getattr(value, "body", None), "registers", None)):
        if holder is not None and hasattr(holder, name):
            found = getattr(holder, name)
            return list(found) if isinstance(found, tuple) else found
    raise AssertionError(f"nothing reads {name}")


@pytest.mark.parametrize("vector", [pytest.param(v, id=v["what"]) for v in VECTORS["accept"]])
def test_each_edge_vector_is_accepted_and_reads_as_the_vector_says(vector):
    decoded = decoder(vector)
    for name, expected in vector["reads"].items():
        assert read(decoded, name) == expected


# --- the SPEC's prose: its tables state what protocol/ does ---

SPEC_TEXT = SPEC.read_text()


def section(title: str) -> str:
    start = SPEC_TEXT.index(title)
    end = SPEC_TEXT.find("\n#", start + len(title))
    return SPEC_TEXT[start:end]


def code_points(text: str) -> set[int]:
    """Every U+XXXX and U+XXXX–U+YYYY in `text`, and every one-character `x` code span."""
    out: set[int] = set()
    for first, last in re.findall(r"U\+([0-9A-F]{4,6})(?:–U\+([0-9A-F]{4,6}))?", text):
        out |= set(range(int(first, 16), int(last or first, 16) + 1))
    out |= {ord(c.replace("\\|", "|")) for c in re.findall(r"`(\\\||[^`])`", text)}
    return out


def test_the_limits_table_is_protocol_limits():
    rows = re.findall(r"^\| `(\w+)` \| (\d+) \|", section("### 0.3 Limits"), re.M)
    assert len(rows) >= 40
    for name, value in rows:
        assert getattr(limits, name) == int(value), name
    source = Path(limits.__file__).read_text()
    wire = "".join(re.findall(r"# --- [^\n]*\(wire\) ---\n(.*?)(?=\n# ---)", source, re.S))
    assert set(re.findall(r"^(\w+) =", wire, re.M)) <= {name for name, _ in rows}


def test_the_country_list_is_what_member_cards_accept():
    listed = set(re.search(r"The accepted codes.*?```\n(.*?)```", SPEC_TEXT, re.S).group(1).split())  # type: ignore[union-attr]
    assert len(listed) == 249
    for pair in itertools.product(string.ascii_uppercase, repeat=2):
        code = "".join(pair)
        try:
            check_country(code)
            accepted = True
        except ProtocolError:
            accepted = False
        assert accepted == (code in listed or code == "EU"), code


def test_the_text_rule_sets_are_those_of_protocol_text():
    rows = {
        m[0]: m[1] for m in re.findall(r"^\| (free text|line text|file name) \| [^|]* \| (.*) \|$", SPEC_TEXT, re.M)
    }
    free = code_points(rows["free text"].split("(")[0])
    line = free | code_points(rows["line text"].split("plus")[1])
    name = line | code_points(rows["file name"].split("plus")[1])
    blank = code_points(re.search(r"\*\*Blank\*\* = (.*?)\. A\n", SPEC_TEXT, re.S).group(1))  # type: ignore[union-attr]
    surrogates = range(0xD800, 0xE000)
    for shape, spec_set in ((Shape.FREE, free), (Shape.LINE, line), (Shape.FILE_NAME, name)):
        pattern = text._FORBIDDEN[shape]
        code_set = {c for c in range(0x10000) if c not in surrogates and pattern.search(chr(c))}
        assert code_set == spec_set, shape
    assert {c for c in range(0x10000) if c not in surrogates and text._BLANK.fullmatch(chr(c))} == blank
    assert ENTRY_DOMAIN.hex() in section("### 0.2 Identifiers")
