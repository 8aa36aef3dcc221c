"""What a node finds in its own store at start: entries an older version let in."""

import sqlite3

from node.datadir import DataDir
from node.node import Node
from protocol import cbor
from protocol.entry import ENTRY_DOMAIN
from protocol.errors import OwnLogUnreadable
from protocol.hlc import pack
from protocol.identity import Identity, hash32

from ..protocol.factories import NOW_MS
from .federation import federation


def legacy_entries(identity: Identity, titles: list[str]) -> list[tuple]:
    """Signed, chained opening entries as an older version wrote them, its text rule
    unchecked: rows for the entries table."""
    rows, prev = [], None
    for seq, title in enumerate(titles, start=1):
        hlc = pack(NOW_MS + seq, 0)
        body = {1: title, 2: 5, 3: 1}
        content = cbor.encode({0: 1, 1: identity.public_key, 2: seq, 3: prev, 4: hlc, 5: 1, 6: body})
        envelope = cbor.encode([content, identity.sign(ENTRY_DOMAIN, content)])
        entry_id = hash32(envelope)
        rows.append((entry_id, identity.public_key, seq, 1, 1, entry_id, hlc, NOW_MS, envelope))
        prev = entry_id
    return rows


def plant(datadir: DataDir, rows: list[tuple]) -> None:
    Node(datadir).store.close()  # creates the schema
    db = sqlite3.connect(datadir.db_path)
    db.executemany(
        "INSERT INTO entries (id, author, seq, chained, kind, incident, hlc, received_ms, envelope)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    db.commit()
    db.close()


def test_a_peers_entry_this_version_refuses_is_set_aside_with_its_chain_and_the_node_starts(tmp_path, caplog):
    a, b = federation(tmp_path, 2)
    other = b.identity()
    plant(a, legacy_entries(other, ["fine", "\u001c", "after it"]))
    node = Node(a)
    assert node.replica.log.head(other.public_key) == (1, node.replica.log.id_at(other.public_key, 1))
    assert [seq for _, seq, _, _ in node.store.quarantined()] == [2, 3]
    assert node.metrics.quarantined._value.get() == 2
    assert any("set aside" in r.getMessage() and getattr(r, "seq", None) == 2 for r in caplog.records)
    assert node.write_refusal() is None or node.write_refusal().reason != "own_log_unreadable"
    node.store.close()


def test_own_entries_this_version_refuses_keep_the_node_from_writing_and_say_what_to_do(tmp_path):
    (a,) = federation(tmp_path, 1)
    plant(a, legacy_entries(a.identity(), ["ok", "a\u0000b"]))
    node = Node(a)
    refusal = node.write_refusal()
    assert isinstance(refusal, OwnLogUnreadable) and "seq 2" in str(refusal) and "new identity" in str(refusal)
    assert len(node.replica.visible_incidents()) == 1  # what it can read, it serves
    node.store.close()
    again = Node(a)  # and on every later start, from the quarantine table
    assert isinstance(again.write_refusal(), OwnLogUnreadable)
    again.store.close()
