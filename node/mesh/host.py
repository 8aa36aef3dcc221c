"""The libp2p host: TCP + Noise + Yamux, roster-gated, redialling roster members.

py-libp2p 0.8.1 has no peer-ID gate hook, so the gate is a Noise transport that checks
the authenticated remote PeerID right after the handshake, both ways, and refuses anyone
not on the roster (HandshakeFailure). Its own redial is far too slow (~70 s, plus a 60 s
negative cache), so `Dialer` keeps a connection to every reachable member itself. It
dials only once a bare TCP connect to the member is answered (`until_path_answers`): a
dial into a path that drops packets would hang on SYN retransmissions (1 s, then 2 s,
...) and miss the link's return by seconds.
"""

import logging
import os
import random
import socket
import struct
from collections.abc import Callable, Iterable

import multiaddr
import trio
from libp2p import new_host
from libp2p.abc import IHost, INetConn, INetStream, INetwork, INotifee, IRawConnection, ISecureConn
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.identity_utils import create_identity_from_seed
from libp2p.network.config import ConnectionConfig, RetryConfig
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.security.exceptions import HandshakeFailure
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_ID
from libp2p.security.noise.transport import Transport as NoiseTransport

from protocol import limits
from protocol.roster import Member

from ..errors import NETWORK_ERRORS, report_unexpected
from ..metrics import Metrics

log = logging.getLogger("qroc.mesh")
AUTO_CONNECT_NEVER_S = 10.0**9
# SO_LINGER for close() to send a reset: the other end learns at once, no TIME_WAIT is left.
LINGER_RESET = struct.pack("ii", 1, 0)


class RosterGate(NoiseTransport):
    """Admits roster members only; dials them only at their roster addresses.

    Several parts of py-libp2p dial on their own (stream opening) at the
    addresses Identify reported, which are wrong behind NAT and would bypass the link
    emulator; an outbound connection to an address not on the member's card is refused.
    """

    def __init__(
        self,
        key_pair: object,
        is_member: Callable[[str], bool],
        on_refused: Callable[[str], None],
        roster_addrs: Callable[[str], set[tuple[str, int]]],
    ) -> None:
        super().__init__(key_pair, noise_privkey=create_x25519_key_pair().private_key)  # type: ignore[arg-type]
        self._is_member = is_member
        self._on_refused = on_refused
        self._roster_addrs = roster_addrs

    def _admit(self, conn: ISecureConn) -> ISecureConn:
        peer = conn.get_remote_peer().to_base58()
        if not self._is_member(peer):
            self._on_refused(peer)
            raise HandshakeFailure(f"peer {peer} is not on the roster")
        return conn

    async def secure_inbound(self, conn: IRawConnection) -> ISecureConn:
        return self._admit(await super().secure_inbound(conn))

    async def secure_outbound(self, conn: IRawConnection, peer_id: ID) -> ISecureConn:
        remote = conn.get_remote_address() if hasattr(conn, "get_remote_address") else None
        if remote is not None and tuple(remote[:2]) not in self._roster_addrs(peer_id.to_base58()):
            raise HandshakeFailure(f"{remote} is not a roster address of {peer_id}")
        return self._admit(await super().secure_outbound(conn, peer_id))


def make_host(
    seed: bytes,
    is_member: Callable[[str], bool],
    on_refused: Callable[[str], None],
    roster_addrs: Callable[[str], set[tuple[str, int]]],
) -> IHost:
    # py-libp2p's yamux sends a WINDOW_UPDATE frame (encrypted, one more write) after every
    # read by default; with this off it sends one per half window read, as go-yamux does.
    # py-spy, 11 nodes at 100 entries/s: the updates were 8 % of a node's samples; measured
    # after (bench_mesh --rate 100): 1.54 -> 1.50 ms of CPU per entry, p99 137 -> 96 ms.
    os.environ.setdefault("PY_YAMUX_RELEASE_ON_READ", "0")
    key_pair = create_identity_from_seed(seed)
    host = new_host(
        key_pair=key_pair,
        sec_opt={NOISE_ID: RosterGate(key_pair, is_member, on_refused, roster_addrs)},
        connection_config=ConnectionConfig(
            # One connection per peer: dials take ~5 ms instead of waiting 250 ms for others.
            max_connections_per_peer=1,
            # Our Dialer keeps roster members connected, at roster addresses only.
            # py-libp2p's auto-connector would redial every few seconds (below its
            # min_connections of 50) at whatever addresses Identify reported: behind
            # NAT those are wrong, and in emulation they bypass the link emulator.
            min_connections=0,
            auto_connect_interval=AUTO_CONNECT_NEVER_S,
        ),
    )
    # The swarm retries every dial 3 more times itself; the Dialer has its own back-off,
    # and while a member is unreachable those retries only burn CPU.
    host.get_network().retry_config = RetryConfig(max_retries=0)  # type: ignore[attr-defined]
    return host


def tcp_endpoints(addrs: list[str]) -> list[tuple[str, int, str]]:
    """(host, port, multiaddr) of each TCP listen multiaddr with a fixed port."""
    out = []
    for addr in addrs:
        ma = multiaddr.Multiaddr(addr)
        names = {p.name for p in ma.protocols()}
        if "tcp" in names and int(ma.value_for_protocol("tcp")) != 0:
            host = ma.value_for_protocol("ip6" if "ip6" in names else "ip4")
            out.append((host, int(ma.value_for_protocol("tcp")), f"mesh listen address {addr}"))
    return out


def member_endpoints(member: Member | None) -> set[tuple[str, int]]:
    """(host, port) of a member's TCP dial addresses."""
    if member is None:
        return set()
    return {(host, port) for host, port, _ in tcp_endpoints([a.split("/p2p/")[0] for a in member.addrs])}


def check_port_free(host: str, port: int, what: str) -> None:
    """Raise OSError if a TCP listen address is taken.

    py-libp2p listens with SO_REUSEPORT (for hole punching), so a second node on the same
    port would start silently and share connections with the first. A probe bound
    without SO_REUSEPORT fails against any existing listener, whatever it set.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise OSError(exc.errno, f"{what} ({host}:{port}) is unavailable: {exc.strerror}") from None


async def _answers(host: str, port: int) -> bool:
    """True if a TCP connect to (host, port) is accepted or refused: packets pass both
    ways. Waits until cancelled, or False on another error (no route)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with trio.socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
        try:
            await probe.connect((host, port))
        except ConnectionRefusedError:
            return True
        except OSError:
            return False
        return True


async def until_path_answers(addrs: set[tuple[str, int]], stop: Callable[[], bool]) -> bool:
    """Probe the path to `addrs` with a TCP connect to each every limits.path_probe_interval_ms,
    each waiting up to limits.path_probe_timeout_ms; True once one is answered (or at once if
    there is nothing to probe), False as soon as `stop()` is true instead (checked at
    every probe). At most a few probes per address are in flight (timeout / interval + 1)."""
    if not addrs:
        return True
    answered = trio.Event()

    async def probe(host: str, port: int) -> None:
        with trio.move_on_after(limits.path_probe_timeout_ms / 1000):
            if await _answers(host, port):
                answered.set()

    async with trio.open_nursery() as nursery:
        while not answered.is_set() and not stop():
            for host, port in addrs:
                nursery.start_soon(probe, host, port)
            with trio.move_on_after(limits.path_probe_interval_ms / 1000):
                await answered.wait()
        nursery.cancel_scope.cancel()
    return answered.is_set()


def peer_info(member: Member) -> PeerInfo:
    addrs = [multiaddr.Multiaddr(a.split("/p2p/")[0]) for a in member.addrs]
    return PeerInfo(ID.from_base58(member.peer_id), addrs)


class ConnectionEvents(INotifee):
    """Forwards libp2p connection events to the node; stream events are not needed."""

    def __init__(self, connected: Callable[[str], None], disconnected: Callable[[str], None]) -> None:
        self._connected = connected
        self._disconnected = disconnected

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        self._connected(conn.muxed_conn.peer_id.to_base58())

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        self._disconnected(conn.muxed_conn.peer_id.to_base58())

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        pass

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        pass

    async def listen(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        pass

    async def listen_close(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        pass


class Dialer:
    """Keeps a connection to every roster member that has dial addresses.

    One loop checks twice a second, and at once when a member disconnects; each
    unconnected member is dialled when its back-off has passed (doubling from
    redial_delay_ms_min to redial_delay_ms_max, with jitter so that a whole federation
    restarting does not dial in lockstep) and its path answers a probe. When the path
    comes back after being down, the end with the greater peer ID lets the other dial
    first (limits.dial_yield_ms), so that the pair gets one connection.
    """

    def __init__(
        self,
        host: IHost,
        roster: Callable[[], Iterable[Member]],
        me: str,
        rng: random.Random,
        metrics: Metrics | None = None,
    ) -> None:
        self.host = host
        self.roster = roster
        self.me = me
        self.rng = rng
        self.metrics = metrics or Metrics()
        self._next_try: dict[str, float] = {}
        self._delay_ms: dict[str, float] = {}
        self._dialling: set[str] = set()  # probing its path or dialling: one task per member
        self._wake = trio.Event()

    def connected(self, peer: str) -> bool:
        return bool(self.host.get_network().get_connections(ID.from_base58(peer)))

    def reset(self, peer: str) -> None:
        """Dial `peer` at once (it just disconnected: it may be restarting, or its link
        was found down)."""
        self._next_try.pop(peer, None)
        self._delay_ms.pop(peer, None)
        self._wake.set()

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            while True:
                now = trio.current_time()
                for member in self.roster():
                    peer = member.peer_id
                    if peer == self.me or not member.addrs or peer in self._dialling:
                        continue
                    if self._next_try.get(peer, 0.0) <= now and not self.connected(peer):
                        self._dialling.add(peer)
                        nursery.start_soon(self._dial, member)
                with trio.move_on_after(limits.dial_check_ms / 1000):
                    await self._wake.wait()
                self._wake = trio.Event()

    async def _dial(self, member: Member) -> None:
        peer = member.peer_id
        started = trio.current_time()
        try:
            if not await until_path_answers(member_endpoints(member), lambda: self.connected(peer)):
                return  # it dialled us meanwhile
            waited_s = trio.current_time() - started
            log.debug("path answered", extra={"peer": peer, "waited_s": waited_s})
            if waited_s >= limits.path_probe_interval_ms / 1000 and self.me > peer and await self._dialled_by(peer):
                return
            info = peer_info(member)
            # Forget py-libp2p's 60 s negative cache: we run our own back-off.
            self.host.get_network().unblock_peer(info.peer_id)  # type: ignore[attr-defined]
            # Dial the roster's addresses only: Identify replaces them with whatever the
            # peer says it listens on (0.0.0.0-derived, behind NAT, or past a relay).
            self.host.get_peerstore().clear_addrs(info.peer_id)
            with trio.fail_after(limits.dial_timeout_ms_max / 1000):
                await self.host.connect(info)
            self.reset(peer)
            log.debug("dialled", extra={"peer": peer})
        except NETWORK_ERRORS as exc:  # refused, reset, timed out, handshake failed: try again later
            self._back_off(peer)
            log.debug("dial failed", extra={"peer": peer, "error": repr(exc)[:200]})
        except Exception as exc:
            self._back_off(peer)
            report_unexpected(self.metrics, log, "mesh.dial", peer, exc)
        finally:
            self._dialling.discard(peer)

    async def _dialled_by(self, peer: str) -> bool:
        """Whether `peer` connects to us within limits.dial_yield_ms (its path just came back)."""
        with trio.move_on_after(limits.dial_yield_ms / 1000):
            while not self.connected(peer):
                await trio.sleep(limits.dial_check_ms / 10_000)
        return self.connected(peer)

    def _back_off(self, peer: str) -> None:
        delay = min(self._delay_ms.get(peer, limits.redial_delay_ms_min / 2) * 2, limits.redial_delay_ms_max)
        self._delay_ms[peer] = delay
        self._next_try[peer] = trio.current_time() + delay / 1000 * self.rng.uniform(0.8, 1.0)
