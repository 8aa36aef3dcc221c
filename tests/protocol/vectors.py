"""The SPEC.md test vectors: built here from constructors, checked there byte for byte.

`render()` gives the JSON block embedded in SPEC.md §8; test_spec_vectors.py checks that
the block equals the rendering and that every vector holds against the reference
implementation and, where it can, against plain PyNaCl, hashlib and cbor2. Everything is
deterministic: fixed seeds, a fixed clock origin, hand-made or fixed zstd frames.

Integers that may exceed 2^53 (HLC values) are written as decimal strings, so that any
JSON reader keeps them exact.
"""

import hashlib
import itertools
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import cbor2
import nacl.signing

from protocol.body import Category, Comment, Location, Media, Open, Registers, Severity, Status, Update
from protocol.entry import ENTRY_DOMAIN, Entry, create
from protocol.hlc import Hlc, pack
from protocol.identity import Identity, hash32
from protocol.log import ForkProof
from protocol.sync import SyncMessage
from protocol.transfer import OP_GET, OP_HAVE, encode_bitmap, encode_error, encode_frame_response, encode_request

SPEC = Path(__file__).resolve().parents[2] / "protocol" / "SPEC.md"
SEED = bytes(range(32))
T = 1_763_786_000_000  # 2025-11-22T04:33:20Z, the clock origin of every vector
HLC = pack(T, 0)

A = Identity(SEED)  # the vector chain's author
B = Identity(bytes(range(32, 64)))  # opens the folded incident
C = Identity(bytes(range(64, 96)))  # updates it concurrently
D = Identity(bytes(range(96, 128)))  # forks its log
STRANGER = Identity(bytes(range(128, 160)))  # not on the roster
MEMBERS = [(A, "OC Vector", "BE"), (B, "OC Vector B", "NL"), (C, "EU OC Vector C", "EU"), (D, "OC Vector D", "AT")]

# A zstd frame (RFC 8878) of CHUNK_TEXT as zstandard 0.25 writes it at level 3: kept as
# bytes so that a new zstd version cannot change the vectors (decoding is stable).
CHUNK_TEXT = b"sensor reading 0.3 uSv/h\n" * 40
ZSTD_TEXT = bytes.fromhex("28b52ffd60e8020d0100c873656e736f722072656164696e6720302e33207553762f680a010031e76a8e01")
# The same without the content size field (Frame_Header_Descriptor 0x00, window 1 KiB).
ZSTD_TEXT_NO_SIZE = bytes.fromhex(
    "28b52ffd00000d0100c873656e736f722072656164696e6720302e33207553762f680a010031e76a8e01"
)
# Hand-made: magic, FHD 0x20 (single segment, 1-byte content size), size 64, one RLE block
# (Last_Block 1, Block_Type 1, Block_Size 64: 0x000203 little-endian), the byte "A".
ZSTD_RLE_64A = bytes.fromhex("28b52ffd2040030200") + b"A"
# Hand-made: FHD 0x80 (4-byte content size, not single segment), window descriptor 20 << 3
# (a 1 GiB window), content size 100, one raw block of 100 bytes.
ZSTD_HUGE_WINDOW = (
    bytes.fromhex("28b52ffd") + bytes([0x80, 20 << 3]) + (100).to_bytes(4, "little") + (801).to_bytes(3, "little")
) + b"x" * 100
SKIPPABLE = bytes.fromhex("505a2a18") + (4).to_bytes(4, "little") + b"QROC"


def diag(value: Any) -> str:
    """CBOR diagnostic notation (RFC 8949 §8) of a decoded value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        return f"h'{value.hex()}'"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(diag(v) for v in value) + "]"
    if isinstance(value, cbor2.CBORTag):
        return f"{value.tag}({diag(value.value)})"
    return "{" + ", ".join(f"{diag(k)}: {diag(v)}" for k, v in value.items()) + "}"


# --- raw CBOR, for inputs the reference encoder would never write ---


class Raw(bytes):
    """Bytes inserted as they are into a hand-built CBOR item."""


def enc(value: Any) -> bytes:
    """Deterministic CBOR (§1), with any Raw inside inserted as it is."""
    if isinstance(value, Raw):
        return value
    if isinstance(value, dict):
        pairs = sorted(((enc(k), enc(v)) for k, v in value.items()), key=lambda kv: (len(kv[0]), kv[0]))
        return head(5, len(pairs)) + b"".join(k + v for k, v in pairs)
    if isinstance(value, list):
        return head(4, len(value)) + b"".join(enc(v) for v in value)
    return cbor2.dumps(value, canonical=True)


def head(major: int, n: int) -> bytes:
    """The shortest CBOR head of major type `major` and argument `n`."""
    if n < 24:
        return bytes([major << 5 | n])
    width = next(w for w in (1, 2, 4, 8) if n < 1 << (8 * w))
    return bytes([major << 5 | (23 + width.bit_length())]) + n.to_bytes(width, "big")


def raw_map(pairs: list[tuple[Any, Any]]) -> Raw:
    """A map with its pairs in the order given (canonical only if given in order)."""
    return Raw(head(5, len(pairs)) + b"".join(enc(k) + enc(v) for k, v in pairs))


def envelope(content: bytes, signer: Identity = A) -> bytes:
    """An envelope around `content` with a valid signature by `signer`."""
    return enc([bytes(content), signer.sign(ENTRY_DOMAIN, bytes(content))])


# --- the entries ---


@cache
def vector_entries() -> list[Entry]:
    """A's chain, seq 1-4: one entry of each kind."""
    opening = create(
        A,
        1,
        None,
        HLC,
        Open(
            Registers(
                title="Device found at Brussels-Midi",
                category=Category.CBRNE,
                severity=Severity.CRITICAL,
                location=Location(508_358_000, 43_364_000, "Brussels-Midi"),
            ),
            tags=("cbrne", "transit"),
        ),
    )
    update = create(
        A,
        2,
        opening.id,
        HLC + 1,
        Update(opening.id, Registers(status=Status.MONITORING), tags_remove=(("transit", (opening.id,)),)),
    )
    comment = create(A, 3, update.id, HLC + 2, Comment(opening.id, "Hazard zone 200 m"), "CBRN-e tabletop")
    media = create(
        A,
        4,
        comment.id,
        HLC + 3,
        Media(opening.id, "device.jpg", "image/jpeg", 5, 4, (bytes(32), bytes([1]) * 32), bytes([2]) * 32),
    )
    return [opening, update, comment, media]


def describe(entry: Entry) -> dict[str, str]:
    content, signature = cbor2.loads(entry.signed)
    return {
        "content": diag(cbor2.loads(content)),
        "content_hex": content.hex(),
        "signature_hex": signature.hex(),
        "entry_hex": entry.signed.hex(),
        "id_hex": entry.id.hex(),
    }


def cards() -> list[dict[str, Any]]:
    out = []
    for who, name, country in MEMBERS:
        card: dict[str, Any] = {"name": name, "country": country, "public_key": who.public_key.hex()}
        if who is A:
            card["peer_id"] = who.peer_id
            card["addrs"] = ["/ip4/192.0.2.10/tcp/4001"]
        out.append(card)
    return out


# --- the fold ---

MEDIA_CHUNKS = [b"A" * 64, b"sensor reading 0.3 uSv/h\n" * 2]  # a 114-byte file in chunks of 64
MEDIA_FILE = b"".join(MEDIA_CHUNKS)


def ms(n: int) -> int:
    return pack(T + n, 0)


@cache
def fold_entries() -> list[tuple[str, Entry]]:
    """One incident opened by B, updated by B and C: each entry with what it shows."""
    opening = create(
        B,
        1,
        None,
        ms(10),
        Open(
            Registers(
                title="Crowd surge at Place Flagey",
                category=Category.CROWD,
                severity=Severity.HIGH,
                description="Concert crowd pressing against the barriers",
                location=Location(508_275_000, 43_720_000, "Place Flagey"),
            ),
            tags=("crowd", "night"),
        ),
    )
    i = opening.id
    c1 = create(C, 1, None, ms(5), Update(i, Registers(status=Status.MONITORING)))
    b2 = create(
        B,
        2,
        opening.id,
        ms(20),
        Update(i, Registers(title="Crowd crush at Place Flagey", description="Barrier gave way"), tags_add=("night",)),
    )
    c2 = create(
        C,
        2,
        c1.id,
        ms(20),
        Update(
            i,
            Registers(severity=Severity.CRITICAL, description="Two exits blocked"),
            tags_remove=(("night", (opening.id,)),),
        ),
    )
    b3 = create(B, 3, b2.id, ms(25), Comment(i, "Cordon in place, ambulances staged"))
    c3 = create(C, 3, c2.id, ms(25), Comment(i, "Second exit opened on Rue de la Brasserie"))
    c4 = create(C, 4, c3.id, ms(50), Update(i, Registers(status=Status.CLOSED)), "Flagey drill")
    chunks = tuple(hash32(c) for c in MEDIA_CHUNKS)
    media = Media(i, "barrier-cam.jpg", "image/jpeg", len(MEDIA_FILE), 64, chunks, hashlib.sha256(MEDIA_FILE).digest())
    b4 = create(B, 4, b3.id, ms(40), media)
    return [
        ("B seq 1: opens the incident (hlc T+10 ms), no status key: status open at (T+10, B, id)", opening),
        ("C seq 1: status monitoring at hlc T+5 ms, LOWER than the opening's: the opening's open wins", c1),
        ("B seq 2 (hlc T+20): new title and description; adds tag night again (a new add)", b2),
        (
            "C seq 2 (hlc T+20, concurrent with B seq 2): severity critical; description (tie on hlc: the "
            "greater author wins); removes the add of night it saw (B seq 1): B seq 2's add survives",
            c2,
        ),
        ("B seq 3: comment (hlc T+25)", b3),
        ("C seq 3: comment at the same hlc as B seq 3: ordered by author", c3),
        (
            "C seq 4: exercise 'Flagey drill' sets status closed (hlc T+50): another exercise, ignored; "
            "it does not count for updated_hlc either",
            c4,
        ),
        ("B seq 4: media manifest (hlc T+40): the latest hlc folded", b4),
    ]


def hlc_text(value: int) -> str:
    return str(value)


def state_of(view: dict[str, Any], live_tags: dict[str, set[bytes]], entries: list[Entry]) -> dict[str, Any]:
    """An incident view (protocol/incident.py) as the vectors write it: comments in order
    key order, as SPEC §6 lists them (the fold holds their ids; `entries` has them)."""
    by_id = {e.id: e for e in entries}
    location = view["location"]
    return {
        "id_hex": view["id"],
        "title": view["title"],
        "description": view["description"],
        "category": view["category"],
        "severity": view["severity"],
        "status": view["status"],
        "location": None
        if location is None
        else {
            "lat_e7": round(location["lat"] * 1e7),
            "lon_e7": round(location["lon"] * 1e7),
            "place": location["place"],
        },
        "tags": view["tags"],
        "tag_adds_hex": {tag: sorted(i.hex() for i in ids) for tag, ids in live_tags.items()},
        "exercise": view["exercise"],
        "author_hex": view["author"].hex(),
        "created_hlc": hlc_text(view["created_hlc"]),
        "updated_hlc": hlc_text(view["updated_hlc"]),
        "comments_hex": [e.id.hex() for e in sorted((by_id[i] for i in view["comments"]), key=lambda e: e.order_key)],
        "media_hex": [e.id.hex() for e in view["media"]],
    }


def fold_vector() -> dict[str, Any]:
    from protocol.incident import fold

    notes = fold_entries()
    entries = [e for _, e in notes]
    state = fold(entries, entries[0].id)
    return {
        "incident_hex": entries[0].id.hex(),
        "authors": {"B": B.public_key.hex(), "C": C.public_key.hex()},
        "entries": [{"note": note, "entry_hex": e.signed.hex(), "id_hex": e.id.hex()} for note, e in notes],
        "state": state_of(state.view(), state.live_tags(), entries),
    }


# --- a fork ---


@cache
def fork_entries() -> list[Entry]:
    """D's key on two devices: seq 1, then seq 2 on each, then seq 3 after the second."""
    incident = fold_entries()[0][1].id
    d1 = create(D, 1, None, ms(60), Comment(incident, "Unit 12 on scene"))
    d2a = create(D, 2, d1.id, ms(61), Comment(incident, "Unit 12 leaving"))
    d2b = create(D, 2, d1.id, ms(62), Comment(incident, "Unit 12 staying"))
    d3b = create(D, 3, d2b.id, ms(63), Comment(incident, "Unit 12 relieved"))
    return [d1, d2a, d2b, d3b]


def fork_vector() -> dict[str, Any]:
    d1, d2a, d2b, d3b = fork_entries()
    same_seq = ForkProof.of(d2b, d2a)
    broken_link = ForkProof.of(d3b, d2a)
    return {
        "author_hex": D.public_key.hex(),
        "entries": [
            {"name": name, "seq": e.seq, "entry_hex": e.signed.hex(), "id_hex": e.id.hex()}
            for name, e in zip(("d1", "d2a", "d2b", "d3b"), (d1, d2a, d2b, d3b), strict=True)
        ],
        "proofs": [
            {
                "what": what,
                "first_id_hex": p.first.id.hex(),
                "second_id_hex": p.second.id.hex(),
                "fork_seq": p.seq,
            }
            for what, p in (
                ("d2a and d2b: one seq, two ids", same_seq),
                ("d2a and d3b: d3b.prev is not d2a", broken_link),
            )
        ],
        "verdict": 2,
        "head": [1, d1.id.hex()],
        "arrivals": arrivals(),
    }


def arrivals() -> list[dict[str, Any]]:
    """Every order in which one replica, alone, can receive D's four entries: the status of
    each (§3.1) and the verdict and head it ends with."""
    from protocol.memory_store import MemoryStore
    from protocol.replica import Replica
    from protocol.roster import Member, Roster

    members = Roster([Member.from_card(card) for card in cards()])
    names = dict(zip(fork_entries(), ("d1", "d2a", "d2b", "d3b"), strict=True))
    out = []
    for order in itertools.permutations(fork_entries()):
        replica = Replica(MemoryStore(), members)
        statuses = [replica.receive(e, T).status.value for e in order]
        seq, head_id = replica.log.head(D.public_key)
        out.append(
            {
                "order": [names[e] for e in order],
                "statuses": statuses,
                "verdict": replica.log.fork_seq(D.public_key),
                "head": [seq, names[next(e for e in fork_entries() if e.id == head_id)]],
            }
        )
    return out


# --- the clock ---


def hlc_vectors() -> list[dict[str, Any]]:
    cases: list[tuple[str, str, tuple[int, int], int, tuple[int, int] | None]] = [
        ("tick: a fresh clock takes the wall clock", "tick", (0, 0), T, None),
        ("tick: same millisecond, the counter goes up", "tick", (T, 0), T, None),
        ("tick: the wall clock stepped back; the clock keeps its ms", "tick", (T, 5), T - 1000, None),
        ("tick: counter overflow moves to the next ms", "tick", (T, 0xFFFF), T, None),
        ("observe: remote ahead (within the skew bound)", "observe", (T, 3), T, (T + 100, 7)),
        ("observe: same ms on both, the larger counter + 1", "observe", (T, 3), T, (T, 9)),
        ("observe: the wall clock ahead of both", "observe", (T, 3), T + 50, (T + 1, 2)),
        ("observe: remote behind ours", "observe", (T + 5, 3), T, (T, 9)),
        ("observe: counter overflow on both", "observe", (T, 0xFFFF), T, (T, 0xFFFF)),
        ("observe: exactly clock_skew_ms_max ahead: accepted", "observe", (T, 0), T, (T + 300_000, 0xFFFF)),
        ("observe: 1 ms beyond clock_skew_ms_max: refused, clock unchanged", "observe", (T, 0), T, (T + 300_001, 0)),
    ]
    out = []
    for what, op, before, now, remote in cases:
        clock = Hlc(pack(*before))
        case: dict[str, Any] = {"what": what, "op": op, "before": list(before), "now_ms": now}
        if remote is not None:
            case["remote"] = list(remote)
        try:
            after = clock.tick(now) if remote is None else clock.observe(pack(*remote), now)
            case["after"] = [after >> 16, after & 0xFFFF]
        except Exception as exc:
            case["reason"] = exc.reason  # type: ignore[attr-defined]
            case["after"] = list(before)
        out.append(case)
    return out


# --- media ---


def chunk_frame_vectors() -> list[dict[str, Any]]:
    frames = [
        ("codec 0: the chunk as it is", bytes([0]) + MEDIA_CHUNKS[1], MEDIA_CHUNKS[1]),
        ("codec 1: one zstd frame, a single RLE block (hand-made)", bytes([1]) + ZSTD_RLE_64A, MEDIA_CHUNKS[0]),
        ("codec 1: one zstd frame, a compressed block (zstd level 3)", bytes([1]) + ZSTD_TEXT, CHUNK_TEXT),
    ]
    return [
        {
            "what": what,
            "frame_hex": frame.hex(),
            "length": len(chunk),
            "chunk_hex": chunk.hex(),
            "hash_hex": hash32(chunk).hex(),
        }
        for what, frame, chunk in frames
    ]


def transfer_vectors() -> list[dict[str, Any]]:
    manifest = fold_entries()[-1][1]
    chunk_hash = hash32(MEDIA_CHUNKS[0])
    frame = bytes([1]) + ZSTD_RLE_64A
    held = [i in (0, 2, 9) for i in range(10)]
    messages = [
        ("HAVE request for the manifest B seq 4", encode_request(OP_HAVE, manifest.id), [OP_HAVE, manifest.id.hex()]),
        ("GET request for its chunk 0", encode_request(OP_GET, chunk_hash), [OP_GET, chunk_hash.hex()]),
        ("bitmap response: 10 chunks, chunks 0, 2 and 9 held", encode_bitmap(held), [0, "0502"]),
        ("frame response: chunk 0 as a codec 1 frame", encode_frame_response(frame), [1, frame.hex()]),
        ("error response: chunk not held", encode_error(1), [2, 1]),
        ("error response: manifest unknown", encode_error(2), [2, 2]),
    ]
    return [
        {
            "what": what,
            "message": "request" if what.split()[1] == "request" else "response",
            "hex": data.hex(),
            "diag": diag(cbor2.loads(data)),
            "decoded": decoded,
        }
        for what, data, decoded in messages
    ]


def home_chunk_vector() -> dict[str, Any]:
    """Which receiver each chunk of B seq 4's manifest is home to (protocol/planner.py)."""
    manifest = fold_entries()[-1][1]
    receivers = sorted(who.peer_id for who, _, _ in MEMBERS if who is not B)
    homes = []
    for index in range(len(MEDIA_CHUNKS)):
        shared = hash32(manifest.id + index.to_bytes(4, "big"))
        number = int.from_bytes(shared[:4], "big")
        homes.append(
            {"index": index, "hash_hex": shared.hex(), "uint32be": number, "home": receivers[number % len(receivers)]}
        )
    return {"manifest_hex": manifest.id.hex(), "author": B.peer_id, "receivers": receivers, "homes": homes}


# --- sync ---


def sync_vectors() -> list[dict[str, Any]]:
    entries = vector_entries()
    folded = [e for _, e in fold_entries()]
    d1, d2a, d2b, _ = fork_entries()
    proof = ForkProof.of(d2a, d2b)
    simple = SyncMessage(heads={A.public_key: (1, entries[0].id)}, entries=[entries[0].signed])
    full = SyncMessage(
        heads={A.public_key: (4, entries[3].id), B.public_key: (4, folded[7].id), D.public_key: (1, d1.id)},
        entries=[folded[1].signed],
        forks=[(proof.first.signed, proof.second.signed)],
        wants=sorted([folded[2].id, d2b.id]),
        samples={D.public_key: [(1, d1.id), (2, d2a.id)]},
        clock=T,
    )
    out = []
    for what, message in (
        ("heads and entries", simple),
        ("heads, entries, forks, wants, samples and clock", full),
        ("nothing new: the empty map", SyncMessage()),
    ):
        data = message.encode()
        out.append({"what": what, "diag": diag(cbor2.loads(data)), "hex": data.hex()})
    return out


# --- what must be refused, and edge cases that must be accepted ---


def content(body: Any, kind: int = 3, **fields: Any) -> Raw:
    """Entry content by A (seq 5 after the vector chain) with `fields` replacing or adding keys."""
    chain = vector_entries()
    values: dict[int, Any] = {0: 1, 1: A.public_key, 2: 5, 3: chain[3].id, 4: HLC + 4, 5: kind, 6: body}
    names = {"version": 0, "author": 1, "seq": 2, "prev": 3, "hlc": 4, "kind": 5, "exercise": 7, "operator": 8}
    for name, value in fields.items():
        if value is ...:
            del values[names[name]]
        else:
            values[names[name]] = value
    return raw_map(sorted(values.items()))


def signer_of(data: bytes) -> str | None:
    """Which vector key's signature the envelope carries, checked with plain PyNaCl."""
    try:
        content_bytes, signature = cbor2.loads(data)
    except Exception:
        return None
    keys = {"A": A, "B": B, "C": C, "D": D, "stranger": STRANGER}
    for name, who in keys.items():
        try:
            nacl.signing.VerifyKey(who.public_key).verify(ENTRY_DOMAIN + content_bytes, signature)
            return name
        except Exception:
            continue
    return None


def reject_vectors() -> list[dict[str, Any]]:
    chain = vector_entries()
    incident = chain[0].id
    comment = {0: incident, 1: "Perimeter holds"}
    open_body = {1: "Water main burst", 2: 5, 3: 2}
    media = {0: incident, 1: "cctv.jpg", 2: "image/jpeg", 3: 5, 4: 4, 5: [bytes(32), bytes([1]) * 32], 6: bytes(32)}
    ids = sorted(hash32(bytes([n])) for n in range(65))

    def named(name: str) -> dict[int, Any]:
        return {**media, 1: name}

    def nest(levels: int) -> Any:
        value: Any = []
        for _ in range(levels - 1):
            value = [value]
        return value

    good = envelope(content(comment))
    bad_signature = bytearray(good)
    bad_signature[-1] ^= 0x01
    huge_content = 262_145 - 72
    bignum = cbor2.CBORTag(2, (1 << 64).to_bytes(9, "big"))
    small_bignum = cbor2.CBORTag(2, b"\x01")
    d1 = fork_entries()[0]

    entry: list[tuple[str, bytes, str]] = [
        # CBOR (§1)
        ("content map keys out of order (1 before 0)", envelope(raw_map([(1, A.public_key), (0, 1)])), "non_canonical"),
        (
            "seq 5 written with a 1-byte argument (18 05)",
            envelope(content(comment, seq=Raw(b"\x18\x05"))),
            "non_canonical",
        ),
        ("a bignum (tag 2) seq 2^64", envelope(content(comment, seq=bignum)), "malformed"),
        (
            "a bignum (tag 2) seq 1: fits 64 bits, so not the deterministic encoding",
            envelope(content(comment, seq=small_bignum)),
            "non_canonical",
        ),
        (
            "hlc as the float 1.5 (f9 3e 00, its shortest form)",
            envelope(content(comment, hlc=Raw(b"\xf9\x3e\x00"))),
            "malformed",
        ),
        (
            "hlc as 1.5 in 8 bytes (not the shortest float)",
            envelope(content(comment, hlc=Raw(bytes.fromhex("fb3ff8000000000000")))),
            "non_canonical",
        ),
        ("the simple value undefined (f7) as prev", envelope(content(comment, prev=Raw(b"\xf7"))), "malformed"),
        (
            "an indefinite-length location array",
            envelope(
                content(
                    {
                        1: "Water main burst",
                        2: 5,
                        3: 2,
                        6: Raw(b"\x9f" + enc(508_358_000) + enc(43_364_000) + enc("") + b"\xff"),
                    },
                    kind=1,
                )
            ),
            "malformed",
        ),
        (
            "nesting 9 deep: content, body, key 8, a removal, its ids, then 4 more arrays",
            envelope(content({0: incident, 8: [["x", [nest(4)]]]}, kind=2)),
            "malformed",
        ),
        (
            "nesting 8 deep (the limit): the CBOR is accepted, the schema refuses the id",
            envelope(content({0: incident, 8: [["x", [nest(3)]]]}, kind=2)),
            "invalid_field",
        ),
        (
            "duplicate key 1 in a comment body",
            envelope(content(raw_map([(0, incident), (1, "a"), (1, "b")]))),
            "malformed",
        ),
        (
            "invalid UTF-8 in a title (61 ff)",
            envelope(content({**open_body, 1: Raw(b"\x62\x61\xff")}, kind=1)),
            "malformed",
        ),
        (
            "a UTF-8-encoded surrogate U+D800 in a comment (ed a0 80)",
            envelope(content({0: incident, 1: Raw(b"\x63\xed\xa0\x80")})),
            "malformed",
        ),
        ("trailing byte after the content map", envelope(Raw(content(comment) + b"\x00")), "non_canonical"),
        # envelope and content (§3)
        (
            "an envelope of 3 items",
            enc([bytes(content(comment)), A.sign(ENTRY_DOMAIN, content(comment)), b""]),
            "malformed",
        ),
        (
            "a signature of 63 bytes",
            enc([bytes(content(comment)), A.sign(ENTRY_DOMAIN, content(comment))[:63]]),
            "malformed",
        ),
        ("version 2", envelope(content(comment, version=2)), "unsupported_version"),
        ("content without prev (key 3)", envelope(content(comment, prev=...)), "malformed"),
        ("unknown content key 9", envelope(raw_map([*cbor2.loads(content(comment)).items(), (9, 0)])), "malformed"),
        ("an empty operator name", envelope(content(comment, operator="")), "invalid_field"),
        ("an operator name with a line break", envelope(content(comment, operator="Jana\nNovák")), "invalid_field"),
        ("an operator name of 65 code points", envelope(content(comment, operator="x" * 65)), "invalid_field"),
        ("operator = null (an absent field is left out)", envelope(content(comment, operator=None)), "invalid_field"),
        ("seq 2^63", envelope(content(comment, seq=1 << 63)), "invalid_field"),
        ("seq 0", envelope(content(comment, seq=0)), "invalid_field"),
        ("hlc 2^63", envelope(content(comment, hlc=1 << 63)), "invalid_field"),
        ("seq 1 with a prev", envelope(content(comment, seq=1)), "invalid_field"),
        ("kind 5 with a comment's body", envelope(content(comment, kind=5)), "invalid_field"),
        ("kind 99 (a later version's)", envelope(content(comment, kind=99)), "unsupported_version"),
        ("kind true", envelope(content(comment, kind=True)), "invalid_field"),
        ("an empty exercise name", envelope(content(comment, exercise="")), "invalid_field"),
        (
            "unknown author: validly signed by a key not on the roster",
            envelope(raw_map(sorted({**cbor2.loads(content(comment)), 1: STRANGER.public_key}.items())), STRANGER),
            "unknown_author",
        ),
        ("a signature that does not verify (last bit flipped)", bytes(bad_signature), "bad_signature"),
        (
            "a comment signed by A claiming author D",
            envelope(raw_map(sorted({**cbor2.loads(content(comment)), 1: D.public_key}.items())), A),
            "bad_signature",
        ),
        # bodies (§4)
        ("an opening without severity", envelope(content({1: "Water main burst", 2: 5}, kind=1)), "invalid_field"),
        ("category 6", envelope(content({**open_body, 2: 6}, kind=1)), "invalid_field"),
        ("key 0 in an opening", envelope(content({0: incident, **open_body}, kind=1)), "malformed"),
        ("key 8 in an opening", envelope(content({**open_body, 8: [["x", [incident]]]}, kind=1)), "malformed"),
        ("latitude 90.0000001°", envelope(content({**open_body, 6: [900_000_001, 0, ""]}, kind=1)), "invalid_field"),
        ("location without its place", envelope(content({**open_body, 6: [0, 0]}, kind=1)), "invalid_field"),
        (
            "an empty tag list (key 7 = [])",
            envelope(content({0: incident, 1: "New title", 7: []}, kind=2)),
            "invalid_field",
        ),
        (
            "an update whose only change is an empty tag list",
            envelope(content({0: incident, 7: []}, kind=2)),
            "invalid_field",
        ),
        ("an update with no change", envelope(content({0: incident}, kind=2)), "invalid_field"),
        ("tags not in ascending order", envelope(content({**open_body, 7: ["b", "a"]}, kind=1)), "invalid_field"),
        (
            "65 tags",
            envelope(content({**open_body, 7: sorted(f"t{n:02}" for n in range(65))}, kind=1)),
            "invalid_field",
        ),
        ("a tag removal with 65 ids", envelope(content({0: incident, 8: [["transit", ids]]}, kind=2)), "invalid_field"),
        ("a tag removal with no ids", envelope(content({0: incident, 8: [["transit", []]]}, kind=2)), "invalid_field"),
        (
            "one tag removed twice",
            envelope(content({0: incident, 8: [["x", [ids[0]]], ["x", [ids[1]]]]}, kind=2)),
            "invalid_field",
        ),
        ("a title with U+001C", envelope(content({**open_body, 1: "Water\x1cmain"}, kind=1)), "invalid_field"),
        (
            "exercise = null (an absent field is left out)",
            envelope(content({0: incident, 1: "x"}, exercise=None)),
            "invalid_field",
        ),
        (
            "an optional register = null",
            envelope(content({0: incident, 1: "New title", 4: None}, kind=2)),
            "invalid_field",
        ),
        ("key 7 = null in an update", envelope(content({0: incident, 1: "T", 7: None}, kind=2)), "invalid_field"),
        (
            "file name with U+061C (ARABIC LETTER MARK, a bidirectional control)",
            envelope(
                content(
                    {0: incident, 1: "a\u061cb.jpg", 2: "image/jpeg", 3: 1, 4: 1, 5: [bytes(32)], 6: bytes(32)}, kind=4
                )
            ),
            "invalid_field",
        ),
        ("a title with NUL", envelope(content({**open_body, 1: "Water\x00main"}, kind=1)), "invalid_field"),
        ("a title with LF", envelope(content({**open_body, 1: "Water\nmain"}, kind=1)), "invalid_field"),
        ("a title with U+2028", envelope(content({**open_body, 1: "Water\u2028main"}, kind=1)), "invalid_field"),
        ("a blank title (U+3000 U+0020)", envelope(content({**open_body, 1: "\u3000 "}, kind=1)), "invalid_field"),
        ("a title of 201 code points", envelope(content({**open_body, 1: "é" * 201}, kind=1)), "invalid_field"),
        (
            "a description with U+0085 (C1 control)",
            envelope(content({**open_body, 5: "pipe\x85burst"}, kind=1)),
            "invalid_field",
        ),
        ("a description with CR", envelope(content({**open_body, 5: "pipe\r\nburst"}, kind=1)), "invalid_field"),
        ("a blank description", envelope(content({**open_body, 5: " \t"}, kind=1)), "invalid_field"),
        ("a comment with U+FFFE", envelope(content({0: incident, 1: "x\ufffe"})), "invalid_field"),
        ("an empty comment", envelope(content({0: incident, 1: ""})), "invalid_field"),
        ("file name ../../etc/passwd", envelope(content(named("../../etc/passwd"), kind=4)), "invalid_field"),
        ("file name a/b", envelope(content(named("a/b"), kind=4)), "invalid_field"),
        ("file name a\\b", envelope(content(named("a\\b"), kind=4)), "invalid_field"),
        ("file name .hidden", envelope(content(named(".hidden"), kind=4)), "invalid_field"),
        ("file name ending in a dot", envelope(content(named("photo."), kind=4)), "invalid_field"),
        ("file name CON.txt", envelope(content(named("CON.txt"), kind=4)), "invalid_field"),
        ("file name lpt9", envelope(content(named("lpt9"), kind=4)), "invalid_field"),
        (
            "file name with U+202E (RIGHT-TO-LEFT OVERRIDE)",
            envelope(content(named("photo\u202egpj.exe"), kind=4)),
            "invalid_field",
        ),
        ("file name with a colon", envelope(content(named("c:photo.jpg"), kind=4)), "invalid_field"),
        (
            "a media manifest whose chunk count does not match (size 9, chunk size 4, 2 hashes)",
            envelope(content({**media, 3: 9}, kind=4)),
            "invalid_field",
        ),
        (
            "a media manifest with chunk size 1 MiB + 1",
            envelope(content({**media, 4: 1024 * 1024 + 1}, kind=4)),
            "invalid_field",
        ),
        (
            "an upper-case MIME type (Image/JPEG)",
            envelope(content({**media, 2: "Image/JPEG"}, kind=4)),
            "invalid_field",
        ),
        ("a MIME type without a subtype", envelope(content({**media, 2: "image/"}, kind=4)), "invalid_field"),
        ("a comment without text", envelope(content({0: incident})), "malformed"),
        ("an incident id of 31 bytes", envelope(content({0: incident[:31], 1: "x"})), "invalid_field"),
        ("a body that is an array", envelope(content([incident, "x"])), "malformed"),
    ]
    vectors: list[dict[str, Any]] = [
        {"what": what, "decoder": "entry", "hex": data.hex(), "reason": reason, "signed_by": signer_of(data)}
        for what, data, reason in entry
    ]
    vectors.append(
        {
            "what": "an entry of 262145 bytes (one over entry_bytes_max): refused before decoding",
            "decoder": "entry",
            "parts": [
                ["825a" + huge_content.to_bytes(4, "big").hex(), 1],
                ["00", huge_content],
                ["5840", 1],
                ["00", 64],
            ],
            "reason": "too_large",
        }
    )

    heads = {A.public_key: [1, chain[0].id]}
    sync: list[tuple[str, bytes, str]] = [
        ("a bignum (tag 2) head seq 2^64", enc({0: {A.public_key: [bignum, chain[0].id]}}), "malformed"),
        ("a bignum (tag 2) head seq 1", enc({0: {A.public_key: [small_bignum, chain[0].id]}}), "non_canonical"),
        ("a head seq 0", enc({0: {A.public_key: [0, chain[0].id]}}), "malformed"),
        ("a heads author of 31 bytes", enc({0: {A.public_key[:31]: [1, chain[0].id]}}), "invalid_field"),
        ("unknown message key 6", enc({0: heads, 6: 0}), "malformed"),
        ("entries = [] (an empty list is left out)", enc({0: heads, 1: []}), "invalid_field"),
        ("an entry that is not a byte string", enc({1: [[1]]}), "malformed"),
        ("wants not in ascending order", enc({3: [bytes([2]) * 32, bytes([1]) * 32]}), "invalid_field"),
        ("a want of 31 bytes", enc({3: [bytes(31)]}), "invalid_field"),
        ("samples in descending seq order", enc({4: {D.public_key: [[2, d1.id], [1, d1.id]]}}), "malformed"),
        ("samples of no seq", enc({4: {D.public_key: []}}), "malformed"),
        ("samples of 17 authors", enc({4: {hash32(bytes([n])): [[1, d1.id]] for n in range(17)}}), "malformed"),
        ("a clock of -1", enc({5: -1}), "invalid_field"),
        ("a fork proof of one entry", enc({2: [[chain[0].signed]]}), "malformed"),
    ]
    for what, data, reason in sync:
        vectors.append({"what": what, "decoder": "sync_message", "hex": data.hex(), "reason": reason})
    oversize = 4 * 1024 * 1024 + 1 - 8  # a1 01 81 5a, a 4-byte length, then that many bytes
    vectors.append(
        {
            "what": "a sync message of 4 MiB + 1 byte (one over sync_message_bytes_max)",
            "decoder": "sync_message",
            "parts": [["a101815a" + oversize.to_bytes(4, "big").hex(), 1], ["00", oversize]],
            "reason": "too_large",
        }
    )

    frames = [
        ("codec 2", bytes([2]) + MEDIA_CHUNKS[1], len(MEDIA_CHUNKS[1])),
        ("an empty frame", b"", 1),
        ("codec 0, one byte short of the manifest's length", bytes([0]) + MEDIA_CHUNKS[1][:-1], len(MEDIA_CHUNKS[1])),
        ("codec 1, a zstd frame without content size", bytes([1]) + ZSTD_TEXT_NO_SIZE, len(CHUNK_TEXT)),
        ("codec 1, content size 64 where the manifest says 65", bytes([1]) + ZSTD_RLE_64A, 65),
        ("codec 1, a window of 1 GiB", bytes([1]) + ZSTD_HUGE_WINDOW, 100),
        ("codec 1, not a zstd magic number", bytes([1]) + b"\x29" + ZSTD_RLE_64A[1:], 64),
        ("codec 1, a skippable frame only", bytes([1]) + SKIPPABLE, 4),
        ("codec 1, one byte after the zstd frame", bytes([1]) + ZSTD_RLE_64A + b"\x00", 64),
        ("codec 1, a second zstd frame after the first", bytes([1]) + ZSTD_RLE_64A + ZSTD_RLE_64A, 64),
        ("codec 1, a skippable frame after the zstd frame", bytes([1]) + ZSTD_RLE_64A + SKIPPABLE, 64),
        ("codec 1, a skippable frame before the zstd frame", bytes([1]) + SKIPPABLE + ZSTD_RLE_64A, 64),
    ]
    for what, data, length in frames:
        vectors.append(
            {"what": what, "decoder": "chunk_frame", "length": length, "hex": data.hex(), "reason": "bad_chunk"}
        )

    transfer = [
        ("a chunk request with op 3", "chunk_request", enc({0: 3, 1: bytes(32)}), "invalid_field"),
        ("a chunk request with a 31-byte hash", "chunk_request", enc({0: 2, 1: bytes(31)}), "invalid_field"),
        ("a chunk request without its argument", "chunk_request", enc({0: 2}), "malformed"),
        ("a chunk request of 65 bytes", "chunk_request", enc({0: 2, 1: bytes(59)}), "too_large"),
        ("a chunk response with two fields", "chunk_response", enc({0: b"\x01", 2: 1}), "malformed"),
        ("a bitmap that is not a byte string", "chunk_response", enc({0: 5}), "malformed"),
        (
            "a frame response with a 1-byte length for 5 bytes",
            "chunk_response",
            bytes.fromhex("a1015805") + b"\0abcd",
            "non_canonical",
        ),
    ]
    for what, decoder, data, reason in transfer:
        vectors.append({"what": what, "decoder": decoder, "hex": data.hex(), "reason": reason})
    for code in (0, 3):
        vectors.append(
            {
                "what": f"a chunk response with error code {code}",
                "decoder": "chunk_response",
                "hex": encode_error(code).hex(),
                "reason": "invalid_field",
            }
        )

    key = B.public_key.hex()
    card_cases: list[tuple[str, dict[str, Any]]] = [
        ("country XX", {"name": "OC X", "country": "XX", "public_key": key}),
        (
            "country UK (exceptionally reserved, but not accepted: GB is the code)",
            {"name": "OC X", "country": "UK", "public_key": key},
        ),
        ("country in lower case", {"name": "OC X", "country": "be", "public_key": key}),
        (
            "a peer_id that does not match the key",
            {"name": "OC X", "country": "BE", "public_key": key, "peer_id": A.peer_id},
        ),
        ("a public key of 31 bytes", {"name": "OC X", "country": "BE", "public_key": key[:62]}),
        ("a blank name", {"name": " \u3000", "country": "BE", "public_key": key}),
        ("a name with a control character", {"name": "OC\x07X", "country": "BE", "public_key": key}),
        ("a public key in upper case", {"name": "OC X", "country": "BE", "public_key": key.upper()}),
        ("9 addresses", {"name": "OC X", "country": "BE", "public_key": key, "addrs": ["/ip4/192.0.2.1/tcp/1"] * 9}),
    ]
    for what, card in card_cases:
        vectors.append({"what": what, "decoder": "member_card", "card": card, "reason": "invalid_field"})
    return vectors


def accept_vectors() -> list[dict[str, Any]]:
    """Edge cases a decoder must accept, with what it must read."""
    chain = vector_entries()
    incident = chain[0].id
    open_body = {1: "Water main burst", 2: 5, 3: 2}
    cases: list[tuple[str, Raw, dict[str, Any]]] = [
        ("an opening without status (status open, §4.1)", content(open_body, kind=1), {"status": None}),
        (
            "a description with TAB, LF, U+2028 and U+200B",
            content({**open_body, 5: "a\tb\nc\u2028d\u200be"}, kind=1),
            {"description": "a\tb\nc\u2028d\u200be"},
        ),
        (
            "an empty description and an empty place",
            content({**open_body, 5: "", 6: [0, 0, ""]}, kind=1),
            {"description": ""},
        ),
        (
            "a title of 200 code points of 4 UTF-8 bytes each",
            content({**open_body, 1: "\U0001f6a8" * 200}, kind=1),
            {"title": "\U0001f6a8" * 200},
        ),
        (
            "the same tag added and removed in one update (the add survives)",
            content({0: incident, 7: ["x"], 8: [["x", [incident]]]}, kind=2),
            {"tags_add": ["x"]},
        ),
        (
            "file name with spaces and non-ASCII letters",
            content(
                {0: incident, 1: "Überwachung Kamera 2.jpg", 2: "image/jpeg", 3: 1, 4: 1, 5: [bytes(32)], 6: bytes(32)},
                kind=4,
            ),
            {"name": "Überwachung Kamera 2.jpg"},
        ),
        (
            "file name CONSOLE.txt (not a device name)",
            content({0: incident, 1: "CONSOLE.txt", 2: "text/plain", 3: 1, 4: 1, 5: [bytes(32)], 6: bytes(32)}, kind=4),
            {"name": "CONSOLE.txt"},
        ),
        (
            "seq 2^63 - 1 and hlc 2^63 - 1",
            content({0: incident, 1: "x"}, seq=(1 << 63) - 1, hlc=(1 << 63) - 1),
            {"seq": (1 << 63) - 1},
        ),
        (
            "a comment naming its operator (content key 8)",
            content({0: incident, 1: "x"}, operator="Jana Novák (duty officer)"),
            {"operator": "Jana Novák (duty officer)"},
        ),
    ]
    out: list[dict[str, Any]] = [
        {"what": what, "decoder": "entry", "hex": envelope(c).hex(), "reads": reads} for what, c, reads in cases
    ]
    key = B.public_key.hex()
    for what, card in (
        ("country EU (exceptionally reserved in ISO 3166-1)", {"name": "EU OC", "country": "EU", "public_key": key}),
        ("unknown card fields are ignored", {"name": "OC X", "country": "BE", "public_key": key, "phone": "+32"}),
    ):
        out.append({"what": what, "decoder": "member_card", "card": card, "reads": {"peer_id": B.peer_id}})
    return out


def render() -> str:
    entries = vector_entries()
    vectors = {
        "format_version": 1,
        "seed_hex": SEED.hex(),
        "public_key_hex": A.public_key.hex(),
        "peer_id": A.peer_id,
        "clock_origin_ms": T,
        "members": [
            {"card": card, "public_key_hex": who.public_key.hex(), "peer_id": who.peer_id}
            for card, (who, _, _) in zip(cards(), MEMBERS, strict=True)
        ],
        "stranger_public_key_hex": STRANGER.public_key.hex(),
        "entries": [describe(e) for e in entries],
        "fold": fold_vector(),
        "fork": fork_vector(),
        "hlc": hlc_vectors(),
        "chunk_frames": chunk_frame_vectors(),
        "transfer": transfer_vectors(),
        "home_chunks": home_chunk_vector(),
        "sync_messages": sync_vectors(),
        "reject": reject_vectors(),
        "accept": accept_vectors(),
    }
    return json.dumps(vectors, indent=2, ensure_ascii=False)


def in_spec() -> str:
    match = re.search(r"<!-- vectors -->\n```json\n(.*?)\n```", SPEC.read_text(), re.S)
    assert match, "SPEC.md lacks its test vectors block"
    return match.group(1)


def parts_bytes(vector: dict[str, Any]) -> bytes:
    """A vector's input: its hex, or its parts (hex, repeat count) joined."""
    if "hex" in vector:
        return bytes.fromhex(vector["hex"])
    return b"".join(bytes.fromhex(h) * n for h, n in vector["parts"])


if __name__ == "__main__":
    print(render())
