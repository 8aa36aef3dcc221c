"""Partitions through the link emulator, with nodes in this trio run."""

import trio

from protocol.body import Comment

from ..protocol.factories import open_body
from .federation import emulated, running, wait_until


async def test_a_partition_holds_until_healed_then_both_sides_converge(tmp_path):
    async with emulated(tmp_path, 4) as cluster, running(cluster.dirs) as nodes:
        await wait_until(lambda: all(len(n.connected) == 3 and n.writable for n in nodes), timeout_s=20)
        opening = nodes[0].write(open_body())
        await wait_until(lambda: all(n.incident_view(opening.id) for n in nodes))
        cluster.links.partition([{0, 1}, {2, 3}])
        await wait_until(lambda: all(len(n.connected) == 1 for n in nodes), timeout_s=10)
        west = [nodes[0].write(Comment(opening.id, f"west {i}")).id for i in range(5)]
        east = [nodes[3].write(Comment(opening.id, f"east {i}")).id for i in range(5)]
        await trio.sleep(12)  # longer than any redial or sync period: nothing may leak
        assert all(nodes[2].store.entry_by_id(i) is None for i in west)
        assert all(nodes[1].store.entry_by_id(i) is None for i in east)
        assert all(nodes[1].store.entry_by_id(i) is not None for i in west)
        cluster.links.heal()
        await wait_until(
            lambda: all(n.store.entry_by_id(i) is not None for n in nodes for i in west + east), timeout_s=15
        )
        views = [n.incident_view(opening.id) for n in nodes]
        assert all(v == views[0] for v in views) and len(views[0]["comments"]) == 10
