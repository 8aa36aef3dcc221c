"""Gossip input that never reaches the node's validator is counted too: real libp2p hosts
on loopback, one running our Gossip, the other writing raw RPCs on a meshsub stream."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import multiaddr
from libp2p import new_host
from libp2p.abc import IHost
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.peerinfo import PeerInfo
from libp2p.pubsub.pb import rpc_pb2
from libp2p.utils.varint import encode_uvarint

from node.mesh.gossip import PROTOCOLS, TOPIC, Gossip
from protocol import limits
from protocol.errors import ProtocolError

from .federation import wait_until

LOOPBACK = multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")


class Receiver:
    """A host running our Gossip; what its validator saw and what it rejected before."""

    def __init__(self, host: IHost) -> None:
        self.validated: list[bytes] = []
        self.rejected: list[tuple[str, str]] = []
        self.gossip = Gossip(host, self._validate, self._on_rejected)

    async def _validate(self, peer: str, envelope: bytes) -> bool:
        self.validated.append(envelope)
        return False  # nothing here is an entry; the test only looks at what got this far

    def _on_rejected(self, exc: ProtocolError, peer: str) -> None:
        self.rejected.append((exc.reason, peer))


@asynccontextmanager
async def hosts() -> AsyncIterator[tuple[IHost, Receiver]]:
    """(sender host, receiver), connected."""
    sender, host = new_host(key_pair=create_new_key_pair()), new_host(key_pair=create_new_key_pair())
    async with sender.run(listen_addrs=[LOOPBACK]), host.run(listen_addrs=[LOOPBACK]):
        receiver = Receiver(host)
        try:
            async with receiver.gossip.running():
                await sender.connect(PeerInfo(host.get_id(), host.get_addrs()))
                yield sender, receiver
        finally:
            await sender.close()
            await host.close()


async def send(sender: IHost, receiver: Receiver, *frames: bytes) -> str:
    """Write `frames` on a new meshsub stream to the receiver; returns the sender's peer id."""
    stream = await sender.new_stream(receiver.gossip.pubsub.host.get_id(), PROTOCOLS)
    for frame in frames:
        await stream.write(frame)
    return sender.get_id().to_base58()


def publish_rpc(sender: IHost, data: bytes) -> bytes:
    message = rpc_pb2.Message(from_id=sender.get_id().to_bytes(), data=data, seqno=b"\0" * 8, topicIDs=[TOPIC])
    body = rpc_pb2.RPC(publish=[message]).SerializeToString()
    return encode_uvarint(len(body)) + body


async def test_an_rpc_over_py_libp2ps_size_limit_is_counted_as_too_large_and_the_next_stream_still_works():
    async with hosts() as (sender, receiver):
        limit = receiver.gossip.pubsub.max_inbound_rpc_size
        peer = await send(sender, receiver, encode_uvarint(limit + 1) + b"\0" * 1000)  # dropped unread
        await wait_until(lambda: receiver.rejected == [("too_large", peer)])
        await send(sender, receiver, publish_rpc(sender, b"an entry would be here"))
        await wait_until(lambda: receiver.validated == [b"an entry would be here"])
        assert receiver.rejected == [("too_large", peer)]


async def test_a_gossiped_message_over_the_entry_limit_is_counted_and_never_validated():
    async with hosts() as (sender, receiver):
        oversize, small = publish_rpc(sender, b"x" * (limits.entry_bytes_max + 1)), publish_rpc(sender, b"small")
        peer = await send(sender, receiver, oversize, small)  # on one stream, in this order
        await wait_until(lambda: receiver.validated == [b"small"])
        assert receiver.rejected == [("too_large", peer)]


async def test_an_rpc_that_does_not_parse_is_counted_as_malformed():
    async with hosts() as (sender, receiver):
        peer = await send(sender, receiver, bytes([20]) + b"\xff" * 20)  # a length prefix, then no protobuf
        await wait_until(lambda: receiver.rejected == [("malformed", peer)])
        assert receiver.gossip.broken_streams == 1 and receiver.validated == []
