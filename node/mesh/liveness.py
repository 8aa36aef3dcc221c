"""Liveness of member connections: echo probes on `/qroc/alive/1`, and connections that
stall (a link cut silently) closed before TCP's retransmission back-off can hold them.

A link that fails silently (a cut line, a routing failure: no reset reaches either end)
leaves TCP connections that look open. Data written during the cut waits for TCP's
retransmission timer, which doubles each time: when the link returns, such a connection
may sit idle for many seconds more (after a 20 s cut in network namespaces the cut OC
needed 8 s more to catch up). Two mechanisms deal with it:

- Stalls, from the kernel (Linux): every limits.stall_check_interval_ms each connection's
  TCP_INFO is read. One whose unacknowledged data made no progress for limits.stall_ms_min
  after its retransmission timer fired is stalled, and its member's path is probed with
  bare TCP connects (node/mesh/host.py). If a probe is answered while the connection still
  makes no progress (given limits.stall_confirm_ms and two of its round trips more), the link
  is back and the connection is stuck in back-off; if the stall lasts limits.stall_close_ms
  (or limits.stall_close_rtts of its round trips, if longer), the link is down. Either way the
  connection is closed with a reset, and the dialer, which probes the path too, redials
  as soon as the path answers. Closing a dead connection early also ends the sync
  sessions hanging on it, so none is in the way when the link returns. A connection that
  is merely slow (a thin link full of media) keeps receiving ACKs, and an ACK queued
  with the probe's answer is waited for, so it is never closed this way.
- Echo probes, everywhere (the fallback where TCP_INFO is unavailable): every
  liveness_probe_interval_ms each connected member is asked to echo one byte, on one
  stream per member kept open (a stream per probe cost measurable CPU on a loaded node);
  a member whose connection misses liveness_probes_missed_max probes in a row (each
  given liveness_timeout_ms) has it closed. The probes also make sure that a connection
  over a cut link has data in flight, so that its stall shows in TCP_INFO.
"""

import logging
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass

import trio
from libp2p.abc import IHost, INetConn, INetStream
from libp2p.peer.id import ID

from protocol import limits

from ..errors import NETWORK_ERRORS, report_unexpected
from ..metrics import Metrics
from .host import LINGER_RESET, until_path_answers
from .syncer import close_quietly

PROTOCOL_ID = "/qroc/alive/1"
log = logging.getLogger("qroc.liveness")
# The socket under a py-libp2p 0.8.1 TCP connection: SwarmConn -> Yamux -> SecureSession ->
# NoiseTransportReadWriter -> RawConnection -> TrioTCPStream -> trio.SocketStream.
_SOCKET_PATH = ("muxed_conn", "secured_conn", "conn", "conn", "stream", "stream", "socket")
_TCP_INFO_BYTES = 128  # up to tcpi_bytes_acked (Linux 4.1)


@dataclass
class TcpProgress:
    """What TCP_INFO tells of a connection's outgoing data."""

    unacked: int  # segments in flight
    backoff: int  # retransmission timeouts since the last acknowledged round trip
    rtt_s: float  # smoothed round trip
    acked: int  # bytes acknowledged so far


def connection_socket(conn: INetConn) -> socket.socket | None:
    """The TCP socket under a py-libp2p connection, None if there is none (or the object
    layout differs from 0.8.1's)."""
    obj: object = conn
    for name in _SOCKET_PATH:
        obj = getattr(obj, name, None)
    return obj if hasattr(obj, "getsockopt") else None  # type: ignore[return-value]


def tcp_progress(sock: socket.socket) -> TcpProgress | None:
    """TCP_INFO of `sock`; None where the kernel has none (not Linux, or closed)."""
    if not hasattr(socket, "TCP_INFO"):
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_BYTES)
    except OSError:
        return None
    if len(info) < _TCP_INFO_BYTES:
        return None
    # struct tcp_info (linux/tcp.h): u8 tcpi_backoff at 4, u32 tcpi_unacked at 24,
    # u32 tcpi_rtt (µs) at 68, u64 tcpi_bytes_acked at 120.
    backoff = info[4]
    (unacked,) = struct.unpack_from("=I", info, 24)
    (rtt_us,) = struct.unpack_from("=I", info, 68)
    (acked,) = struct.unpack_from("=Q", info, 120)
    return TcpProgress(unacked, backoff, rtt_us / 1e6, acked)


def peer_of(conn: INetConn) -> str:
    return conn.muxed_conn.peer_id.to_base58()


async def handle_probe(stream: INetStream, metrics: Metrics | None = None) -> None:
    """Echo each byte until the prober closes the stream or goes quiet for long. An
    unexpected error is counted in `metrics` (give the node's)."""
    peer = stream.muxed_conn.peer_id.to_base58()
    try:
        while True:
            with trio.fail_after(2 * limits.liveness_probe_interval_ms / 1000 + limits.liveness_timeout_ms / 1000):
                data = await stream.read(1)
                if not data:
                    return
                await stream.write(data)
    except NETWORK_ERRORS as exc:  # the prober went away (or its link did): nothing to answer
        log.debug("probe stream ended", extra={"peer": peer, "error": repr(exc)[:200]})
    except Exception as exc:
        report_unexpected(metrics or Metrics(), log, "liveness.answer", peer, exc)
    finally:
        await close_quietly(stream)


@dataclass
class _Watch:
    """One connection's progress as last seen."""

    acked: int
    since: float  # trio time since which its data in flight has made no progress
    recovering: bool = False


class Prober:
    """Sends echo probes to every connected member and watches every connection's TCP
    state; closes a member's connections when they miss probes, stall for long, or are
    stuck in back-off while the path answers (the dialer then reconnects).

    `endpoints(peer)` gives a member's roster (host, port) pairs, where its path is
    probed; without it, or for a member without any, the stalled connection's own remote
    address is (a listener if we dialled, else a closed port that answers with a reset).
    """

    def __init__(
        self,
        host: IHost,
        connected: dict[str, int],
        metrics: Metrics | None = None,
        endpoints: Callable[[str], set[tuple[str, int]]] | None = None,
    ) -> None:
        self.host = host
        self.connected = connected
        self.metrics = metrics or Metrics()
        self.endpoints = endpoints or (lambda peer: set())
        self.missed: dict[str, int] = {}  # peer -> probes unanswered in a row
        self.streams: dict[str, INetStream] = {}
        self._watches: dict[int, _Watch] = {}  # id(connection) -> progress

    async def run(self) -> None:
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._watch_stalls)
                while True:
                    await trio.sleep(limits.liveness_probe_interval_ms / 1000)
                    for peer in [p for p in self.streams if p not in self.connected]:
                        await self._forget(peer)
                    async with trio.open_nursery() as probes:  # one per member: bounded by the roster
                        for peer in list(self.connected):
                            probes.start_soon(self._probe, peer)
        finally:
            for stream in self.streams.values():
                await close_quietly(stream)

    async def _forget(self, peer: str) -> None:
        """Start afresh with `peer`: its connection was closed (misses on it are void)."""
        self.missed.pop(peer, None)
        stream = self.streams.pop(peer, None)
        if stream is not None:
            await close_quietly(stream)

    # --- echo probes ---

    async def _probe(self, peer: str) -> None:
        answered, error = False, ""
        stream = self.streams.get(peer)
        with trio.move_on_after(limits.liveness_timeout_ms / 1000):
            try:
                if stream is None:
                    stream = self.streams[peer] = await self.host.new_stream(ID.from_base58(peer), [PROTOCOL_ID])
                await stream.write(b"\x01")
                answered = await stream.read(1) == b"\x01"
            except NETWORK_ERRORS as exc:  # e.g. the stream's negotiation timed out on a dead link
                error = repr(exc)[:200]
            except Exception as exc:
                report_unexpected(self.metrics, log, "liveness.probe", peer, exc)
                error = repr(exc)[:200]
        if stream is not None and stream.muxed_conn.is_closed:
            await self._forget(peer)  # closed meanwhile (a stall replaced it): nothing to count
            return
        if not answered:
            stream = self.streams.pop(peer, None)  # a stream left mid-probe is not reused
            if stream is not None:
                await close_quietly(stream)
        self.missed[peer] = 0 if answered else self.missed.get(peer, 0) + 1
        if self.missed[peer] < limits.liveness_probes_missed_max:
            return
        log.warning("member not answering: closing its connection", extra={"peer": peer, "error": error})
        self.metrics.connections_closed.labels("unanswered").inc()
        await self.close_all(peer)

    # --- stalls ---

    async def _watch_stalls(self) -> None:
        """Read every connection's TCP_INFO; start a recovery for each one newly stalled."""
        async with trio.open_nursery() as nursery:  # at most one recovery per connection
            while True:
                now = trio.current_time()
                watches = {}
                for conn in self.host.get_network().get_connections():
                    sock = connection_socket(conn)
                    progress = None if sock is None else tcp_progress(sock)
                    if progress is None:
                        continue  # no TCP_INFO here: the echo probes alone find dead links
                    watch = self._watches.get(id(conn)) or _Watch(progress.acked, now)
                    if progress.unacked == 0 or progress.acked != watch.acked:
                        watch.acked, watch.since = progress.acked, now
                    watches[id(conn)] = watch
                    stalled = progress.backoff > 0 and now - watch.since >= limits.stall_ms_min / 1000
                    if stalled and not watch.recovering:
                        watch.recovering = True
                        nursery.start_soon(self._recover, conn, sock, watch)
                self._watches = watches
                await trio.sleep(limits.stall_check_interval_ms / 1000)

    async def _recover(self, conn: INetConn, sock: socket.socket, watch: _Watch) -> None:
        """Probe a stalled connection's path until the connection makes progress again (it
        stays), or the path answers while it still makes none (stuck in back-off), or the
        stall lasts too long (the link is down): in the last two cases it is closed."""
        peer, since = peer_of(conn), watch.since
        try:
            progress = tcp_progress(sock)
            rtt_s = progress.rtt_s if progress is not None else 0.0
            close_at = since + max(limits.stall_close_ms / 1000, limits.stall_close_rtts * rtt_s)
            host, port = sock.getpeername()[:2]
            addrs = self.endpoints(peer) or {(host, port)}
            log.info("connection stalled: probing its path", extra={"peer": peer})

            def resumed() -> bool:
                return conn.is_closed or watch.since != since

            answered = await until_path_answers(addrs, lambda: resumed() or trio.current_time() >= close_at)
            if answered:
                await trio.sleep(limits.stall_confirm_ms / 1000 + 2 * rtt_s)
            progress = tcp_progress(sock)
            if resumed() or progress is None or progress.unacked == 0 or progress.acked != watch.acked:
                return  # it recovered by itself
            why = "stuck in back-off while its path answers" if answered else "stalled: its link is down"
            log.info(f"connection {why}: closing it", extra={"peer": peer, "stalled_s": trio.current_time() - since})
            self.metrics.connections_closed.labels("stuck" if answered else "stalled").inc()
            await self.close_all(peer)  # any other connection to it crosses the same link
        except NETWORK_ERRORS as exc:
            log.debug("stall recovery ended", extra={"peer": peer, "error": repr(exc)[:200]})
        except Exception as exc:
            report_unexpected(self.metrics, log, "liveness.stall", peer, exc)
        finally:
            watch.recovering = False

    async def close_all(self, peer: str) -> None:
        """Close every connection to `peer` with a reset: it learns at once (a FIN would wait
        behind the unacknowledged data), and the dialer, told of the disconnection, redials."""
        conns = self.host.get_network().get_connections(ID.from_base58(peer))
        with trio.move_on_after(limits.host_close_ms_max / 1000) as cleanup:
            cleanup.shield = True
            try:
                for conn in conns:  # first: a write blocked on the dead link would hold up the rest
                    sock = connection_socket(conn)
                    if sock is not None:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
                        sock.close()  # wakes every task blocked on it; py-libp2p then tears down
                await self._forget(peer)
                for conn in conns:
                    await conn.close()
            except NETWORK_ERRORS as exc:  # already closing
                log.debug("close failed", extra={"peer": peer, "error": repr(exc)[:200]})
            except Exception as exc:
                report_unexpected(self.metrics, log, "liveness.close", peer, exc)
