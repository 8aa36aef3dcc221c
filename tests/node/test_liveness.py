"""Liveness: the kernel's view of a connection is read through py-libp2p's objects, paths
are probed with bare TCP connects, and a link that fails silently (packets dropped by the
kernel, no reset) has its connection closed, then reopened soon after the link returns."""

import socket

import pytest
import trio

from node.mesh.host import until_path_answers
from node.mesh.liveness import connection_socket, tcp_progress
from protocol import limits
from simulations.federation import Cluster, free_port
from simulations.netns import Namespaces, why_unavailable

from .federation import federation, running, wait_until


async def test_the_socket_under_a_libp2p_connection_is_found_and_the_kernel_reports_its_progress(tmp_path):
    async with running(federation(tmp_path, 2)) as (a, b):
        await wait_until(lambda: b.peer_id in a.connected)
        (conn,) = a.host.get_network().get_connections()
        sock = connection_socket(conn)
        assert sock is not None and sock.type == socket.SOCK_STREAM
        assert sock.getpeername()[0] == "127.0.0.1"
        if not hasattr(socket, "TCP_INFO"):
            pytest.skip("no TCP_INFO on this system: only the echo probes find dead links")
        progress = tcp_progress(sock)
        assert progress is not None
        assert progress.acked > 0 and progress.backoff == 0  # the handshake was acknowledged


async def test_a_path_answers_when_its_port_accepts_or_refuses_and_probing_stops_when_told():
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    listening = ("127.0.0.1", listeners[0].socket.getsockname()[1])
    try:
        assert await until_path_answers({listening}, stop=lambda: False)
        assert await until_path_answers({("127.0.0.1", free_port())}, stop=lambda: False)  # refused: a reset came back
        assert not await until_path_answers({listening}, stop=lambda: True)
        assert await until_path_answers(set(), stop=lambda: False)  # nothing to probe: the dial finds out
    finally:
        for listener in listeners:
            await listener.aclose()


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
                # Found by its stall (an echo probe puts data in flight), or where the kernel
                # does not tell, by the echo probes alone.
                probe_s = (limits.liveness_probe_interval_ms + limits.liveness_timeout_ms) / 1000
                detection_s = max(limits.liveness_probes_missed_max * probe_s, limits.stall_close_ms / 1000)
                await until_connected(cluster, 0, timeout_s=detection_s + 10)
                netns.heal()
                # The dialers' path probes are answered, and the dial follows.
                await until_connected(cluster, 1, timeout_s=10)
                nursery.cancel_scope.cancel()
        finally:
            cluster.stop()
        logs = "".join(path.read_text() for path in tmp_path.glob("*.log"))
        if hasattr(socket, "TCP_INFO"):
            assert "stalled: its link is down" in logs  # the kernel's view, not the fallback's
