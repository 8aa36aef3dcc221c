"""Partitions through the link emulator, with nodes in this trio run."""

from protocol.body import Comment

from ..protocol.factories import open_body
from .federation import emulated, running, wait_until


def sessions(node) -> float:
    """Sync sessions the node completed so far."""
    return node.metrics.sync_sessions.labels("complete")._value.get()


async def test_a_partition_holds_until_healed_then_both_sides_converge(tmp_path):
    async with emulated(tmp_path, 4) as cluster, running(cluster.dirs) as nodes:
        await wait_until(lambda: all(len(n.connected) == 3 and n.writable for n in nodes))
        opening = nodes[0].write(open_body())
        await wait_until(lambda: all(n.incident_view(opening.id) for n in nodes))
        cluster.links.partition([{0, 1}, {2, 3}])
        await wait_until(lambda: all(len(n.connected) == 1 for n in nodes))
        west = [nodes[0].write(Comment(opening.id, f"west {i}")).id for i in range(5)]
        east = [nodes[3].write(Comment(opening.id, f"east {i}")).id for i in range(5)]
        # Each side holds its own side's entries, and has since had several chances to leak
        # the others' (sync sessions every second, redials): nothing may have crossed.
        await wait_until(lambda: all(nodes[1].store.entry_by_id(i) for i in west))
        await wait_until(lambda: all(nodes[2].store.entry_by_id(i) for i in east))
        done = [sessions(n) for n in nodes]
        await wait_until(lambda: all(sessions(n) >= d + 5 for n, d in zip(nodes, done, strict=True)))
        assert all(nodes[2].store.entry_by_id(i) is None for i in west)
        assert all(nodes[1].store.entry_by_id(i) is None for i in east)
        assert all(nodes[1].store.entry_by_id(i) is not None for i in west)
        cluster.links.heal()
        await wait_until(
            lambda: all(n.store.entry_by_id(i) is not None for n in nodes for i in west + east), timeout_s=15
        )
        views = [n.incident_view(opening.id) for n in nodes]
        assert all(v == views[0] for v in views) and len(views[0]["comments"]) == 10
