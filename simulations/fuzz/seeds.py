"""Seed corpora of the protocol and node targets, made by the project's own encoders.

Rules:
- Every seed is a real encoding built here at run time (entry.create, SyncMessage.encode,
  encode_frame, DataDir.save_genesis, Config.to_toml): nothing is copied from elsewhere.
- Fixed keys and clock: the seeds, and so a seeded run, are the same on every machine.
- The seeds reach every branch a valid input can take: each body kind (each governance
  action), an exercise, an operator, addressees, a fork, compressed and raw frames,
  every message part.
"""

import tempfile
from functools import cache
from pathlib import Path

import cbor2

from node.config import Config
from node.datadir import DataDir
from protocol import cbor, limits
from protocol.body import (
    Ack,
    AckLevel,
    Answer,
    Body,
    Category,
    Comment,
    Location,
    Media,
    Open,
    Origin,
    Profile,
    Registers,
    Severity,
    Status,
    Update,
)
from protocol.charter import Action, Address, Approval, Proposal, Quorum, rotation_proof
from protocol.entry import Entry, create
from protocol.gossip import Frame, Push, tag
from protocol.governance import Genesis
from protocol.identity import Identity
from protocol.media import Chunker, encode_frame
from protocol.roster import Member, Roster
from protocol.sync import EMPTY, SyncMessage
from protocol.transfer import (
    NOT_HELD,
    OP_GET,
    OP_HAVE,
    UNKNOWN_MANIFEST,
    encode_bitmap,
    encode_error,
    encode_frame_response,
    encode_request,
)

NOW_MS = 1_763_786_000_000  # 2025-11-22
AUTHOR = Identity(bytes([1]) * 32)  # writes the chain
PEER = Identity(bytes([2]) * 32)  # the replica that receives it (targets.sync_receive)
ROSTER = Roster(
    [
        Member(
            "OC Belgium (Federal Police)", "BE", AUTHOR.public_key, (f"/ip4/192.0.2.10/tcp/4001/p2p/{AUTHOR.peer_id}",)
        ),
        Member("OC Czechia", "CZ", PEER.public_key),
    ]
)
# A frame's chunk length, which the manifest gives the receiver: 3 bytes before the frame.
LENGTH_BYTES = 3


def _media(incident: bytes) -> Media:
    chunker = Chunker(chunk_size=16)
    chunker.feed(b"scene photo bytes, not a real JPEG")
    return chunker.finish(incident, "scene.jpg", "image/jpeg")[1]


def _governance() -> list[Body]:
    """One body of each governance kind and action."""
    base, newcomer = genesis().id, Identity(bytes([3]) * 32)
    admit = Proposal(base, Action.ADMIT, newcomer.public_key, "OC Poland", "PL", ("/dns4/oc.example.pl/tcp/4001",))
    return [
        admit,
        Approval(base),
        Address(("/ip4/192.0.2.11/tcp/4001",)),
        Proposal(base, Action.REVOKE, PEER.public_key, last_seq=12),
        Proposal(
            base,
            Action.ROTATE,
            AUTHOR.public_key,
            last_seq=9,
            new_key=newcomer.public_key,
            proof=rotation_proof(newcomer, AUTHOR.public_key),
        ),
        Proposal(base, Action.RULE, quorum=Quorum(3, 4)),
    ]


@cache
def genesis() -> Genesis:
    return Genesis(tuple(ROSTER), Quorum(2, 3)).signed_by(AUTHOR).signed_by(PEER)


@cache
def chain() -> tuple[Entry, ...]:
    """AUTHOR's log: one entry of each kind, the later ones with exercise, operator, `to`."""
    opening = create(
        AUTHOR,
        1,
        None,
        NOW_MS << 16,
        Open(
            Registers(
                "Device found at Brussels-Midi",
                Category.CBRNE,
                Severity.HIGH,
                Status.OPEN,
                "Unattended rucksack.\n\tSensor alarm.",
                Location(508_358_000, 43_364_000, "Brussels-Midi"),
            ),
            ("cbrne", "transit"),
            Origin("cap", "sender@example.org", "alert-1"),
        ),
    )
    incident = opening.id
    bodies: list[Body] = [
        Update(incident, Registers(status=Status.MONITORING), ("lead-be",), (("transit", (incident,)),)),
        Comment(incident, "Cordon set at 200 m."),
        _media(incident),
        Ack(incident, incident, AckLevel.NOTED),
        Profile("qroc-2025", (Answer("alerting", 2, 4, "Night shift\tonly."), Answer("media", 1, 3))),
        *_governance(),
    ]
    entries = [opening]
    for n, body in enumerate(bodies, 2):
        entries.append(
            create(
                AUTHOR,
                n,
                entries[-1].id,
                (NOW_MS << 16) + n,
                body,
                exercise="drill-7" if n % 2 else None,
                operator="J. Peeters" if n > 3 else None,
                to=(PEER.public_key,) if n == 5 else (),
            )
        )
    return tuple(entries)


@cache
def fork() -> Entry:
    """A second entry at seq 2: with chain()[1], the proof that AUTHOR forked."""
    first = chain()[0]
    return create(AUTHOR, 2, first.id, (NOW_MS << 16) + 9, Comment(first.id, "written by a cloned key"))


def entries() -> list[bytes]:
    return [e.signed for e in (*chain(), fork())]


def contents() -> list[bytes]:
    """What AUTHOR signed: the first item of each envelope."""
    return [cbor2.loads(signed)[0] for signed in entries()]


def manifests() -> list[bytes]:
    return [cbor.encode(e.body.to_cbor()) for e in chain() if e.body.kind == 4]


def profiles() -> list[bytes]:
    return [cbor.encode(e.body.to_cbor()) for e in chain() if e.body.kind == 6]


def sync_messages() -> list[bytes]:
    log = chain()
    head = {AUTHOR.public_key: (len(log), log[-1].id)}
    forked = {AUTHOR.public_key: (2, fork().id)}
    samples = {AUTHOR.public_key: [(1, log[0].id), (2, fork().id), (4, log[3].id)]}
    return [
        EMPTY,
        SyncMessage(heads=head, clock=NOW_MS).encode(),
        SyncMessage(heads={}, entries=[e.signed for e in log]).encode(),
        SyncMessage(heads=forked, wants=[fork().id, log[0].id], samples=samples).encode(),
        SyncMessage(entries=[fork().signed], forks=[(log[1].signed, fork().signed)]).encode(),
    ]


def gossip_frames() -> list[bytes]:
    log = chain()
    covered = frozenset({tag(AUTHOR.public_key), b"\x01" * limits.gossip_tag_bytes})
    heads = {AUTHOR.public_key: (len(log), log[-1].id)}
    return [
        EMPTY,
        Frame((Push(log[0].signed, covered),)).encode(),
        Frame(tuple(Push(e.signed, frozenset()) for e in log), heads).encode(),
        Frame(heads=heads).encode(),
    ]


def chunk_requests() -> list[bytes]:
    manifest = chain()[3]
    return [encode_request(OP_HAVE, manifest.id), encode_request(OP_GET, manifest.body.chunks[0])]  # type: ignore[union-attr]


def _chunks() -> list[bytes]:
    return [b"incident report line\n" * 40, bytes(range(256)), b"x"]


def chunk_responses() -> list[bytes]:
    frames = [encode_frame_response(encode_frame(chunk)) for chunk in _chunks()]
    return [encode_bitmap([True, False, True]), *frames, encode_error(NOT_HELD), encode_error(UNKNOWN_MANIFEST)]


def chunk_frames() -> list[bytes]:
    return [len(chunk).to_bytes(LENGTH_BYTES, "big") + encode_frame(chunk) for chunk in _chunks()]


def proposals() -> list[bytes]:
    return [cbor.encode(e.body.to_cbor()) for e in chain() if e.body.kind == 8]


def geneses() -> list[bytes]:
    """genesis.json as `qroc init` and `qroc genesis sign` write it."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        datadir = DataDir(Path(tmp))
        for founders in (genesis(), Genesis(tuple(ROSTER)[:1], Quorum(2, 3)).signed_by(AUTHOR)):
            datadir.save_genesis(founders)
            out.append(datadir.genesis_path.read_bytes())
    return out


def dials() -> list[bytes]:
    """dial.json as simulations/federation.py writes it."""
    with tempfile.TemporaryDirectory() as tmp:
        datadir = DataDir(Path(tmp))
        datadir.save_dial({m.public_key: m.addrs for m in ROSTER})
        return [datadir.dial_path.read_bytes()]


def configs() -> list[bytes]:
    full = Config(
        name="OC Belgium (Federal Police)",
        country="BE",
        listen=["/ip4/0.0.0.0/tcp/4001", "/ip6/::/tcp/4001"],
        announce=["/ip4/192.0.2.10/tcp/4001", "/dns4/oc.example.org/tcp/4001"],
        api="[::1]:8700",
        sync_interval_s=2.5,
        gossip=False,
        media_fetch="on_demand",
        media_auto_fetch_bytes_max=1_000_000,
        log_level="debug",
        log_format="text",
        tls_cert="/etc/qroc/cert.pem",
        tls_key="/etc/qroc/key.pem",
        cot_out=["tcp://192.0.2.20:8087"],
        cot_in="127.0.0.1:4242",
    )
    return [full.to_toml().encode(), Config(name="OC EU", country="EU").to_toml().encode()]
