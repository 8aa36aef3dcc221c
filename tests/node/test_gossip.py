"""Our gossip protocol between real libp2p hosts on loopback: pushes arrive once and are
forwarded only to members not covered yet; hostile frames are counted and close only
their stream."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import multiaddr
import trio
from libp2p import new_host
from libp2p.abc import IHost
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.peerinfo import PeerInfo

from node.mesh.gossip import PROTOCOL_ID, Gossip
from protocol import limits
from protocol.errors import ProtocolError
from protocol.gossip import Frame, Push, tag
from protocol.identity import public_key_of
from protocol.replica import Heads

from .federation import wait_until

LOOPBACK = multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")


class Member:
    """A host running our Gossip; what its validator saw, what it rejected, heads heard."""

    def __init__(self, host: IHost, forward: bool = True) -> None:
        self.host = host
        self.peer = host.get_id().to_base58()
        self.forward = forward
        self.validated: list[tuple[str, bytes]] = []
        self.rejected: list[tuple[str, str]] = []
        self.heads: list[tuple[str, Heads]] = []
        self.gossip = Gossip(host, self._validate, self._on_rejected, on_heads=lambda p, m: self.heads.append((p, m)))

    async def _validate(self, peer: str, envelope: bytes) -> bool:
        first = all(e != envelope for _, e in self.validated)
        self.validated.append((peer, envelope))
        return self.forward and first

    def _on_rejected(self, exc: ProtocolError, peer: str) -> None:
        self.rejected.append((exc.reason, peer))


@asynccontextmanager
async def members(n: int, links: list[tuple[int, int]]) -> AsyncIterator[list[Member]]:
    """`n` members running gossip, connected along `links` (each side told, as the node's
    connection events do)."""
    hosts = [new_host(key_pair=create_new_key_pair()) for _ in range(n)]
    async with _run(hosts):
        group = [Member(h) for h in hosts]
        async with _gossiping(group):
            for i, j in links:
                await hosts[i].connect(PeerInfo(hosts[j].get_id(), hosts[j].get_addrs()))
                group[i].gossip.peer_connected(group[j].peer)
                group[j].gossip.peer_connected(group[i].peer)
            yield group
        for h in hosts:
            await h.close()


@asynccontextmanager
async def _run(hosts: list[IHost]) -> AsyncIterator[None]:
    if not hosts:
        yield
        return
    async with hosts[0].run(listen_addrs=[LOOPBACK]), _run(hosts[1:]):
        yield


@asynccontextmanager
async def _gossiping(group: list[Member]) -> AsyncIterator[None]:
    if not group:
        yield
        return
    async with group[0].gossip.running(), _gossiping(group[1:]):
        yield


async def raw(sender: Member, receiver: Member, *frames: bytes) -> None:
    """Write length-prefixed `frames` on a new gossip stream, as a hostile member would."""
    stream = await sender.host.new_stream(receiver.host.get_id(), [PROTOCOL_ID])
    for frame in frames:
        await stream.write(len(frame).to_bytes(4, "big") + frame)


async def test_in_a_full_mesh_each_member_receives_a_push_once_and_nobody_forwards():
    async with members(4, [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]) as group:
        group[0].gossip.publish(b"an entry")
        await wait_until(lambda: all(m.validated for m in group[1:]))
        await trio.sleep(0.3)  # time for any forward to arrive
        for m in group[1:]:
            assert m.validated == [(group[0].peer, b"an entry")]


async def test_a_push_crosses_a_cut_link_through_the_members_beside_it():
    # 0 - 1 - 2 in a line: 2 hears 0's entry from 1, and 1 sends it nowhere else.
    async with members(3, [(0, 1), (1, 2)]) as (a, b, c):
        a.gossip.publish(b"an entry")
        await wait_until(lambda: c.validated == [(b.peer, b"an entry")])
        assert b.validated == [(a.peer, b"an entry")] and a.validated == []


async def test_a_push_is_not_sent_to_members_already_covered():
    async with members(3, [(0, 1), (1, 2)]) as (a, b, c):
        covered = frozenset({tag(public_key_of(a.peer)), tag(public_key_of(c.peer))})
        await raw(
            a, b, Frame((Push(b"covered", covered),)).encode(), Frame((Push(b"not covered", frozenset()),)).encode()
        )
        await wait_until(lambda: c.validated == [(b.peer, b"not covered")])
        assert [e for _, e in b.validated] == [b"covered", b"not covered"]


async def test_announced_heads_reach_the_member_they_are_sent_to():
    async with members(2, [(0, 1)]) as (a, b):
        heads = {b"\x01" * 32: (3, b"\x02" * 32)}
        a.gossip.announce(b.peer, heads)
        await wait_until(lambda: b.heads == [(a.peer, heads)])


async def test_a_frame_over_its_bound_is_counted_as_too_large_and_the_next_stream_still_works():
    async with members(2, [(0, 1)]) as (a, b):
        stream = await a.host.new_stream(b.host.get_id(), [PROTOCOL_ID])
        await stream.write((limits.gossip_frame_bytes_max + 1).to_bytes(4, "big") + b"\0" * 1000)
        await wait_until(lambda: b.rejected == [("too_large", a.peer)])
        await raw(a, b, Frame((Push(b"an entry would be here", frozenset()),)).encode())
        await wait_until(lambda: [e for _, e in b.validated] == [b"an entry would be here"])
        assert b.rejected == [("too_large", a.peer)] and b.gossip.broken_streams == 1


async def test_a_pushed_entry_over_the_entry_limit_is_counted_and_never_validated():
    async with members(2, [(0, 1)]) as (a, b):
        oversize = Push(b"x" * (limits.entry_bytes_max + 1), frozenset())
        await raw(a, b, Frame((oversize, Push(b"small", frozenset()))).encode())
        await wait_until(lambda: [e for _, e in b.validated] == [b"small"])
        assert b.rejected == [("too_large", a.peer)]


async def test_a_frame_that_does_not_parse_is_counted_as_malformed():
    async with members(2, [(0, 1)]) as (a, b):
        await raw(a, b, b"\xff" * 20)
        await wait_until(lambda: b.rejected == [("malformed", a.peer)])
        assert b.gossip.broken_streams == 1 and b.validated == []


async def test_a_push_seen_before_is_dropped_without_validating_it_again():
    async with members(2, [(0, 1)]) as (a, b):
        push = Frame((Push(b"an entry", frozenset()),)).encode()
        await raw(a, b, push, push, Frame((Push(b"another", frozenset()),)).encode())
        await wait_until(lambda: [e for _, e in b.validated] == [b"an entry", b"another"])
