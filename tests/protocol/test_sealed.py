"""Restricted incidents: sealed entries only recipients read (protocol/sealed.py)."""

import os

import pytest

from protocol.body import Comment, Sealed
from protocol.errors import BadChunk, InvalidField
from protocol.media import verify_chunk
from protocol.sealed import ChunkSealer, carried, open_chunk

from .factories import NOW_MS, comment_texts, open_body, replicas


def sealing_replicas(n: int):
    group = replicas(n)
    for replica in group:
        replica.random_bytes = os.urandom
    return group


def deliver(entry, *to):
    for replica in to:
        replica.receive(entry, NOW_MS)


def test_only_the_recipients_read_a_restricted_incident_and_everyone_holds_its_ciphertext():
    be, nl, de, fr = sealing_replicas(4)
    opening = be.open_restricted(open_body(), {nl.me, de.me}, NOW_MS)
    comment = be.write(Comment(opening.id, "Suspect seen at Antwerp"), NOW_MS + 1)
    for entry in (opening, comment):
        assert isinstance(entry.body, Sealed)
        assert b"Antwerp" not in entry.signed and b"Brussels" not in entry.signed
        deliver(entry, nl, de, fr)
    for reader in (be, nl, de):
        state = reader.incidents[opening.id]
        assert state.summary()["title"] == "Device found at Brussels-Midi"
        assert comment_texts(reader, opening.id) == ["Suspect seen at Antwerp"]
        assert set(state.restricted_to) == {be.me, nl.me, de.me}
    assert opening.id not in fr.incidents and fr.store.holds(comment.id)


def test_a_recipients_answer_is_sealed_too_and_a_non_recipient_cannot_write_to_it():
    be, nl, fr = sealing_replicas(3)
    opening = be.open_restricted(open_body(), {nl.me}, NOW_MS)
    deliver(opening, nl, fr)
    answer = nl.write(Comment(opening.id, "NL has the car"), NOW_MS + 1)
    assert isinstance(answer.body, Sealed)
    deliver(answer, be)
    assert len(be.incidents[opening.id].view()["comments"]) == 1
    with pytest.raises(InvalidField, match="not a recipient"):  # fr holds the ciphertext, not the key
        fr.write(Comment(opening.id, "FR guesses"), NOW_MS + 2)


def test_a_recipient_added_later_reads_everything_and_one_removed_reads_nothing_written_after():
    be, nl, de, pl = sealing_replicas(4)
    opening = be.open_restricted(open_body(), {nl.me, de.me}, NOW_MS)
    before = be.write(Comment(opening.id, "before"), NOW_MS + 1)
    added = be.change_recipients(opening.id, {pl.me}, set(), NOW_MS + 2)
    removed = be.change_recipients(opening.id, set(), {de.me}, NOW_MS + 3)
    after = be.write(Comment(opening.id, "after"), NOW_MS + 4)
    for entry in (opening, before, added, removed, after):
        deliver(entry, nl, de, pl)
    texts = {r: comment_texts(r, opening.id) for r in (nl, de, pl)}
    assert texts[nl] == texts[pl] == ["before", "after"]
    assert texts[de] == ["before"]
    assert set(nl.incidents[opening.id].restricted_to) == {be.me, nl.me, pl.me}


def test_a_share_arriving_after_the_entries_makes_them_readable():
    be, nl, pl = sealing_replicas(3)
    opening = be.open_restricted(open_body(), {nl.me}, NOW_MS)
    comment = be.write(Comment(opening.id, "early"), NOW_MS + 1)
    share = be.change_recipients(opening.id, {pl.me}, set(), NOW_MS + 2)
    deliver(opening, pl)
    deliver(comment, pl)
    assert opening.id not in pl.incidents
    deliver(share, pl)
    assert comment_texts(pl, opening.id) == ["early"]


def test_a_restarted_author_reads_its_own_restricted_incident():
    (be,) = sealing_replicas(1)
    opening = be.open_restricted(open_body(), set(), NOW_MS)
    restarted = type(be)(be.store, be.roster, be.identity)
    restarted.restore([opening], [])
    assert restarted.incidents[opening.id].summary()["title"] == "Device found at Brussels-Midi"


def test_media_of_a_restricted_incident_travels_as_sealed_chunks_only_recipients_open():
    be, nl, fr = sealing_replicas(3)
    opening = be.open_restricted(open_body(), {nl.me}, NOW_MS)
    photo = b"suspect photo, " * 100_000  # two chunks
    sealer = ChunkSealer(os.urandom(32), os.urandom)
    chunks = dict(sealer.feed(photo))
    tail, manifest = sealer.finish(opening.id, "suspect.jpg", "image/jpeg")
    chunks.update(tail)
    entry = be.write(manifest, NOW_MS + 1, file_key=sealer.file_key)
    assert isinstance(entry.body, Sealed) and b"suspect.jpg" not in entry.signed
    deliver(opening, nl, fr)
    deliver(entry, nl, fr)
    relayed = carried(entry).body  # what every member fetches, verifies and serves
    assert relayed.name == "sealed" and relayed.chunks == manifest.chunks
    for index, chunk_hash in enumerate(relayed.chunks):
        verify_chunk(relayed, index, chunks[chunk_hash])
    assert all(photo[:1000] not in chunk for chunk in chunks.values())
    seen = nl.readable(entry)
    assert seen.body == manifest and seen.body.size == len(photo) and seen.body.name == "suspect.jpg"
    key = nl.keyring.file_keys[entry.id]
    assert b"".join(open_chunk(key, chunks[h]) for h in seen.body.chunks) == photo
    assert fr.readable(entry) is None and len(nl.incidents[opening.id].view()["media"]) == 1
    with pytest.raises(BadChunk):
        open_chunk(os.urandom(32), chunks[manifest.chunks[0]])
