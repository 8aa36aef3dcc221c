"""A link that fails silently (packets dropped by the kernel, no reset) is noticed by the
liveness probes, and the connection is back as soon as the link is."""

import pytest
import trio

from protocol import limits
from simulations.federation import Cluster
from simulations.netns import Namespaces, why_unavailable


async def peers_connected(cluster: Cluster, node: int) -> int:
    async with cluster.nodes[node].client() as api:
        return int((await api.get("/v1/health")).json()["peers_connected"])


async def until_connected(cluster: Cluster, count: int, timeout_s: float) -> None:
    with trio.fail_after(timeout_s):
        while not all([await peers_connected(cluster, i) == count for i in range(len(cluster.nodes))]):
            await trio.sleep(0.2)


@pytest.mark.skipif(why_unavailable() is not None, reason=str(why_unavailable()))
async def test_a_silently_cut_link_is_closed_then_reopened_soon_after_it_returns(tmp_path):
    with Namespaces(2) as netns:
        cluster = Cluster(tmp_path, 2, emulated=set(), netns=netns)
        try:
            async with trio.open_nursery() as nursery:
                await cluster.start(nursery)
                netns.set_node(1, up=False)
                probe_s = (limits.liveness_probe_interval_ms + limits.liveness_timeout_ms) / 1000
                detection_s = limits.liveness_probes_missed_max * probe_s
                await until_connected(cluster, 0, timeout_s=detection_s + 10)
                netns.heal()
                # The dialer's next attempt (a dial hanging on a dropped SYN retries it).
                await until_connected(cluster, 1, timeout_s=10)
                nursery.cancel_scope.cancel()
        finally:
            cluster.stop()
