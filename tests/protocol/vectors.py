"""The SPEC.md test vectors: built here from constructors, checked there byte for byte."""

import json
import re
from pathlib import Path
from typing import Any

import cbor2

from protocol.body import Category, Comment, Location, Media, Open, Registers, Severity, Status, Update
from protocol.entry import Entry, create
from protocol.hlc import pack
from protocol.identity import Identity
from protocol.sync import SyncMessage

SPEC = Path(__file__).resolve().parents[2] / "protocol" / "SPEC.md"
SEED = bytes(range(32))
HLC = pack(1_763_786_000_000, 0)


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
    return "{" + ", ".join(f"{diag(k)}: {diag(v)}" for k, v in value.items()) + "}"


def vector_entries() -> list[Entry]:
    me = Identity(SEED)
    opening = create(
        me,
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
        me,
        2,
        opening.id,
        HLC + 1,
        Update(opening.id, Registers(status=Status.MONITORING), tags_remove=(("transit", (opening.id,)),)),
    )
    comment = create(me, 3, update.id, HLC + 2, Comment(opening.id, "Hazard zone 200 m"), "CBRN-e tabletop")
    media = create(
        me,
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


def render() -> str:
    me = Identity(SEED)
    entries = vector_entries()
    sync = SyncMessage(heads={me.public_key: (1, entries[0].id)}, entries=[entries[0].signed]).encode()
    vectors = {
        "seed_hex": SEED.hex(),
        "public_key_hex": me.public_key.hex(),
        "peer_id": me.peer_id,
        "entries": [describe(e) for e in entries],
        "sync_message": {"diag": diag(cbor2.loads(sync)), "hex": sync.hex()},
    }
    return json.dumps(vectors, indent=2, ensure_ascii=False)


def in_spec() -> str:
    match = re.search(r"<!-- vectors -->\n```json\n(.*?)\n```", SPEC.read_text(), re.S)
    assert match, "SPEC.md lacks its test vectors block"
    return match.group(1)


if __name__ == "__main__":
    print(render())
