"""Gossip fast path: entries published on one gossipsub topic, message id = entry id.

The topic validator is where a gossiped entry is checked *and stored*: it decodes and
verifies the entry (protocol/), hands it to the node to store durably, and only then
lets libp2p forward it. Hostile input is rejected (never stored or forwarded) and counted.

py-libp2p silently drops messages in several places (see py-libp2p-0.8.1.md): spam
protection is off, our publishes are paced, and anti-entropy sync repairs every loss.
libp2p's own message signature is off (strict_signing=False): every entry is signed by
its author already, and the libp2p signature plus peer record more than doubles a
small message.
"""

import contextlib
import logging
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import trio
from libp2p.abc import IHost
from libp2p.peer.id import ID
from libp2p.pubsub.gossipsub import GossipSub
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.pubsub import Pubsub
from libp2p.tools.anyio_service import background_trio_service

from protocol import limits
from protocol.identity import hash32

TOPIC = "qroc/entries/1"
# meshsub 1.1: 1.2 sends IDONTWANT for every message and costs twice the CPU (measured).
PROTOCOLS = ["/meshsub/1.1.0"]
# Pause between our own publishes: py-libp2p's per-peer queue holds 32 RPCs and drops
# the rest silently when a burst does not yield.
PUBLISH_PACE_S = 0.002

log = logging.getLogger("qroc.gossip")

Validate = Callable[[str, bytes], Awaitable[bool]]


def _message_id(message: rpc_pb2.Message) -> bytes:
    return hash32(message.data)  # the entry id: the hash of the envelope


class Gossip:
    def __init__(self, host: IHost, validate: Validate) -> None:
        self.router = GossipSub(
            protocols=PROTOCOLS,
            # A federation is a few dozen OCs; D=4 still reaches 11 nodes in about two hops
            # and sync repairs what gossip misses. Measured on 11 processes at 20 entries/s:
            # D=6/4/12 saturates 2 cores (12.7 ms CPU per entry per node, p50 2.1 s);
            # D=4/3/6 takes 7.4 ms, p50 13 ms, p99 35 ms (simulations/bench_mesh.py).
            degree=4,
            degree_low=3,
            degree_high=6,
            heartbeat_interval=1,
            spam_protection_enabled=False,
        )
        self.pubsub = Pubsub(host, self.router, strict_signing=False, msg_id_constructor=_message_id)
        # py-libp2p lets an exception from reading a peer's pubsub stream (e.g. an RPC that
        # does not parse) escape into the host's nursery and stop the whole node. Wrap its
        # handler: a broken stream from one peer is dropped, counted and logged.
        for protocol in PROTOCOLS:
            host.set_stream_handler(protocol, self._guarded_stream_handler)
        self._validate = validate
        self._send, self._queue = trio.open_memory_channel[bytes](limits.publish_queue_max)
        self.dropped_publishes = 0
        self.broken_streams = 0

    async def _guarded_stream_handler(self, stream: Any) -> None:
        try:
            await self.pubsub.stream_handler(stream)
        except Exception as exc:
            self.broken_streams += 1
            log.warning("dropped a broken gossip stream", extra={"error": repr(exc)[:200]})
            with contextlib.suppress(Exception):
                await stream.reset()

    async def _validator(self, forwarder: ID, message: rpc_pb2.Message) -> bool:
        if len(message.data) > limits.entry_bytes_max:
            return False
        return await self._validate(forwarder.to_base58(), bytes(message.data))

    def publish(self, envelope: bytes) -> None:
        """Queue our entry for gossip; if the queue is full, sync will carry it instead."""
        try:
            self._send.send_nowait(envelope)
        except trio.WouldBlock:
            self.dropped_publishes += 1

    @asynccontextmanager
    async def running(self) -> Any:
        async with background_trio_service(self.pubsub), background_trio_service(self.router):
            await self.pubsub.wait_until_ready()
            self.pubsub.set_topic_validator(TOPIC, self._validator, is_async_validator=True)
            subscription = await self.pubsub.subscribe(TOPIC)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._drain, subscription)
                nursery.start_soon(self._publisher)
                try:
                    yield self
                finally:
                    nursery.cancel_scope.cancel()

    async def _drain(self, subscription: Any) -> None:
        """Entries are handled in the validator; the subscription only has to be emptied."""
        while True:
            await subscription.get()

    async def _publisher(self) -> None:
        async for envelope in self._queue:
            try:
                await self.pubsub.publish(TOPIC, envelope)
            except Exception as exc:  # gossip is best effort; sync is the guarantee
                log.warning("publish failed", extra={"error": str(exc)[:200]})
            await trio.sleep(PUBLISH_PACE_S)
