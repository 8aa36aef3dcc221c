"""Real libp2p hosts on loopback, real SQLite files, nodes in one trio run."""

from node.node import Node
from protocol.body import Comment
from protocol.entry import create

from ..protocol.factories import open_body
from .federation import federation, found, running, wait_until


def rejected(node: Node, source: str) -> float:
    samples = node.metrics.rejected.collect()[0].samples
    return sum(s.value for s in samples if s.name.endswith("_total") and s.labels["source"] == source)


def holds(node: Node, entry_ids) -> bool:
    return all(node.store.entry_by_id(i) is not None for i in entry_ids)


async def writable(nodes: list[Node]) -> None:
    await wait_until(lambda: all(n.writable for n in nodes))


async def test_an_entry_written_on_one_of_five_nodes_in_a_partial_mesh_reaches_all_of_them(tmp_path):
    # A line with one shortcut: 0-1, 1-2, 2-3, 3-4, 1-3. Entries must travel through others.
    links = {0: [1], 1: [0, 2, 3], 2: [1, 3], 3: [1, 2, 4], 4: [3]}
    # Periodic sync an hour apart: once connected and synced, only gossip carries it.
    async with running(federation(tmp_path, 5, links, sync_interval_s=3600.0)) as nodes:
        await wait_until(lambda: len(nodes[0].connected) == 1 and len(nodes[4].connected) == 1)
        await writable(nodes)
        await wait_until(lambda: all(n.metrics.sync_sessions.labels("complete")._value.get() for n in nodes))
        entry = nodes[0].write(open_body())
        await wait_until(lambda: all(holds(n, [entry.id]) for n in nodes))
        assert nodes[4].metrics.entries.labels("open", "gossip")._value.get() == 1  # three hops of gossip
        assert all(n.incident_view(entry.id)["title"] == open_body().registers.title for n in nodes)


async def test_sync_alone_brings_every_entry_everywhere_when_gossip_is_off(tmp_path):
    dirs = federation(tmp_path, 3, gossip=False)
    async with running(dirs) as nodes:
        await writable(nodes)
        opening = nodes[0].write(open_body())
        written = [opening.id] + [nodes[i % 3].write(Comment(opening.id, f"report {i}")).id for i in range(60)]
        await wait_until(lambda: all(holds(n, written) for n in nodes))
        assert all(n.metrics.gossip_published._value.get() == 0 for n in nodes)
        views = [n.incident_view(opening.id) for n in nodes]
        assert views[0] == views[1] == views[2]
        assert len(views[0]["comments"]) == 60


async def test_a_node_stopped_while_others_write_500_entries_catches_up_after_restart(tmp_path):
    dirs = federation(tmp_path, 3)
    async with running(dirs[:2]) as (a, b):
        async with running(dirs[2:]) as (c,):
            await writable([a, b, c])
            opening = a.write(open_body())
            await wait_until(lambda: holds(c, [opening.id]))
        written = [(a if i % 2 else b).write(Comment(opening.id, f"while away {i}")).id for i in range(500)]
        await wait_until(lambda: holds(a, written) and holds(b, written))
        async with running(dirs[2:]) as (c,):
            await wait_until(lambda: holds(c, written))
            assert c.incident_view(opening.id) == a.incident_view(opening.id)


async def test_a_new_member_starting_late_catches_up_completely(tmp_path):
    dirs = federation(tmp_path, 3)
    async with running(dirs[:2]) as (a, b):
        await writable([a, b])
        opening = a.write(open_body())
        written = [opening.id] + [b.write(Comment(opening.id, f"before you came {i}")).id for i in range(100)]
        async with running(dirs[2:]) as (newcomer,):
            await wait_until(lambda: holds(newcomer, written))
            await wait_until(lambda: newcomer.writable)
            assert newcomer.incident_view(opening.id) == b.incident_view(opening.id)


async def test_a_node_restored_from_an_empty_disk_catches_up_from_one_peer(tmp_path):
    dirs = federation(tmp_path, 2)
    async with running(dirs) as (a, b):
        await writable([a, b])
        opening = b.write(open_body())
        written = [opening.id] + [b.write(Comment(opening.id, f"own {i}")).id for i in range(50)]
        written += [a.write(Comment(opening.id, f"peer {i}")).id for i in range(50)]
        await wait_until(lambda: holds(a, written))
    # B loses its disk but keeps its key (restored from backup): its log comes back from A.
    for path in dirs[1].path.glob("node.db*"):
        path.unlink()
    async with running(dirs) as (a, b):
        assert not b.writable or holds(b, written)
        await wait_until(lambda: holds(b, written))
        await wait_until(lambda: b.writable)
        later = b.write(Comment(opening.id, "back"))
        assert later.seq == 52  # continues its own chain: no fork
        await wait_until(lambda: holds(a, [later.id]))
        assert a.replica.log.fork_seq(later.author) is None


async def test_a_peer_not_on_the_roster_is_refused_and_nothing_it_sends_is_stored(tmp_path):
    dirs = federation(tmp_path, 3)
    members, outsider = dirs[:2], dirs[2]
    # The members' federation was founded without the third node; it still lists them and keeps dialling.
    found(members, members)
    async with running(members) as (a, b):
        await writable([a, b])
        async with running([outsider]) as (intruder,):
            intruder.replica.gate.synced = True  # it will never sync with a member: let it write anyway
            forged = intruder.write(open_body("planted"))
            await wait_until(
                lambda: a.metrics.refused_peers._value.get() >= 2 and b.metrics.refused_peers._value.get() >= 2
            )
            assert not intruder.connected
            opening = a.write(open_body())
            await wait_until(lambda: holds(b, [opening.id]))
        assert a.store.entry_by_id(forged.id) is None and b.store.entry_by_id(forged.id) is None
        assert b.views().counts() == {"entries": 1, "incidents": 1}


async def test_garbage_gossiped_by_a_member_is_dropped_counted_and_not_forwarded(tmp_path):
    links = {0: [1], 1: [0, 2], 2: [1]}  # 0 reaches 2 only through 1
    async with running(federation(tmp_path, 3, links)) as (bad, middle, far):
        await writable([bad, middle, far])
        for garbage in (b"\x00" * 40, b"\xa1\x00\x01", entry_with_bad_signature(bad)):
            bad.gossip.publish(garbage)  # a broken or hostile member: its own gossip checks nothing
        await wait_until(lambda: rejected(middle, "gossip") == 3)
        assert far.metrics.gossip_received._value.get() == 0
        assert middle.store.counts()["entries"] == 0 and far.store.counts()["entries"] == 0


def entry_with_bad_signature(node: Node) -> bytes:
    """A well-formed entry of the node's, one bit of its signature flipped; never stored
    anywhere, so no sync can bring a valid copy of it."""
    envelope = bytearray(create(node.identity, 1, None, node.now_ms() << 16, open_body()).signed)
    envelope[-1] ^= 1
    return bytes(envelope)


async def test_a_gossip_stream_that_does_not_parse_is_dropped_and_the_node_keeps_running(tmp_path):
    from libp2p.peer.id import ID

    from node.mesh.gossip import PROTOCOL_ID

    async with running(federation(tmp_path, 2)) as (a, b):
        await writable([a, b])
        stream = await a.host.new_stream(ID.from_base58(b.peer_id), [PROTOCOL_ID])
        await stream.write(bytes([0, 0, 0, 20]) + b"\xff" * 20)  # a length prefix, then no CBOR
        await wait_until(lambda: b.gossip.broken_streams >= 1)
        opening = a.write(open_body())
        await wait_until(lambda: holds(b, [opening.id]))


async def test_a_member_holding_sync_sessions_open_slows_only_itself(tmp_path):
    from libp2p.peer.id import ID

    from node.mesh.syncer import PROTOCOL_ID
    from protocol import limits

    async with running(federation(tmp_path, 3, gossip=False)) as (hog, b, c):
        await writable([hog, b, c])
        held = []
        for _ in range(limits.sync_sessions_max):  # every slot B has, if it let one member take them
            try:
                held.append(await hog.host.new_stream(ID.from_base58(b.peer_id), [PROTOCOL_ID]))
            except Exception:  # B resets what is over the member's share
                continue
        await wait_until(lambda: b.metrics.sync_sessions.labels("refused")._value.get() > 0)
        opening = c.write(open_body())  # gossip is off: only a sync session brings it to B
        await wait_until(lambda: holds(b, [opening.id]))
        assert b.metrics.sync_sessions.labels("refused")._value.get() >= limits.sync_sessions_max - (
            limits.sync_sessions_per_peer_max + 1
        )
