"""Gossip fast path: entries published on one gossipsub topic, message id = entry id.

The topic validator is where a gossiped entry is checked *and stored*: it decodes and
verifies the entry (protocol/), hands it to the node to store durably, and only then
lets libp2p forward it. Hostile input is rejected (never stored or forwarded) and counted.

py-libp2p silently drops messages in several places (see py-libp2p-0.8.1.md): spam
protection is off, our publishes are paced, and anti-entropy sync repairs every loss.
libp2p's own message signature is off (strict_signing=False): every entry is signed by
its author already, and the libp2p signature plus peer record more than doubles a
small message.

Oversize input is rejected input like any other (reason too_large, source gossip): an
entry over entry_bytes_max in the validator, and an RPC over py-libp2p's
max_inbound_rpc_size, which py-libp2p drops inside Pubsub.continuously_read_stream
before any validator runs (logging on its own logger, which the node silences, and
resetting the stream). We see that one by following the length prefixes on the inbound
stream we hand to pubsub (`_WatchedRpcs`).
"""

import contextlib
import logging
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, cast

import trio
from google.protobuf.message import DecodeError
from libp2p.abc import IHost, INetStream
from libp2p.peer.id import ID
from libp2p.pubsub.gossipsub import GossipSub
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.pubsub import Pubsub
from libp2p.tools.anyio_service import background_trio_service

from protocol import limits
from protocol.errors import Malformed, ProtocolError, TooLarge
from protocol.identity import hash32

from ..errors import NETWORK_ERRORS, report_unexpected
from ..metrics import Metrics

TOPIC = "qroc/entries/1"
# meshsub 1.1: 1.2 sends IDONTWANT for every message and costs twice the CPU (measured).
PROTOCOLS = ["/meshsub/1.1.0"]
log = logging.getLogger("qroc.gossip")

Validate = Callable[[str, bytes], Awaitable[bool]]
OnRejected = Callable[[ProtocolError, str], None]  # (why, peer): the node counts and logs it


def _message_id(message: rpc_pb2.Message) -> bytes:
    return hash32(message.data)  # the entry id: the hash of the envelope


def _log_rejected(exc: ProtocolError, peer: str) -> None:
    log.warning("gossip input rejected", extra={"reason": exc.reason, "peer": peer, "detail": str(exc)[:200]})


class _WatchedRpcs:
    """An inbound pubsub stream that follows the varint length prefix in front of every
    RPC as py-libp2p reads it, and reports a length over `limit` (which py-libp2p then
    drops) before py-libp2p sees it. Everything else is the stream's own."""

    def __init__(self, stream: INetStream, limit: int, on_too_large: Callable[[int], None]) -> None:
        self._stream = stream
        self._limit = limit
        self._on_too_large = on_too_large
        self._prefix = self._shift = 0  # the length prefix read so far
        self._body = 0  # bytes of the current RPC still to come; 0: a prefix comes next

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    async def read(self, n: int | None = None) -> bytes:
        data = await self._stream.read(n)
        self._follow(data)
        return data

    def _follow(self, data: bytes) -> None:
        i = 0
        while i < len(data):
            if self._body:
                step = min(self._body, len(data) - i)
                self._body -= step
                i += step
                continue
            byte = data[i]
            i += 1
            self._prefix |= (byte & 0x7F) << self._shift
            self._shift += 7
            if not byte & 0x80:
                length, self._prefix, self._shift = self._prefix, 0, 0
                if length > self._limit:
                    self._on_too_large(length)  # py-libp2p resets the stream: nothing follows
                else:
                    self._body = length


class Gossip:
    """`validate(peer, envelope)` checks and stores a gossiped entry; `on_rejected(error,
    peer)` is told of gossip input refused before it (default: a warning in our log);
    `metrics` counts unexpected errors (default: a registry of its own)."""

    def __init__(
        self, host: IHost, validate: Validate, on_rejected: OnRejected | None = None, metrics: Metrics | None = None
    ) -> None:
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
        self._on_rejected = on_rejected if on_rejected is not None else _log_rejected
        self.metrics = metrics if metrics is not None else Metrics()
        self._send, self._queue = trio.open_memory_channel[bytes](limits.publish_queue_max)
        self.dropped_publishes = 0
        self.broken_streams = 0
        self.rejected = 0

    def _reject(self, exc: ProtocolError, peer: str) -> None:
        self.rejected += 1
        self._on_rejected(exc, peer)

    async def _guarded_stream_handler(self, stream: INetStream) -> None:
        peer = stream.muxed_conn.peer_id.to_base58()
        limit = self.pubsub.max_inbound_rpc_size

        def too_large(length: int) -> None:
            self._reject(TooLarge(f"gossip RPC of {length} bytes, over py-libp2p's {limit}"), peer)

        try:
            await self.pubsub.stream_handler(cast(INetStream, _WatchedRpcs(stream, limit, too_large)))
        except NETWORK_ERRORS as exc:  # the link failed or the peer left
            log.debug("gossip stream ended", extra={"peer": peer, "error": repr(exc)[:200]})
        except DecodeError as exc:  # py-libp2p lets an RPC that does not parse escape
            self.broken_streams += 1
            self._reject(Malformed(f"gossip RPC does not parse: {exc}"), peer)
            await self._reset(stream)
        except Exception as exc:
            self.broken_streams += 1
            report_unexpected(self.metrics, log, "gossip_stream", peer, exc)
            await self._reset(stream)

    @staticmethod
    async def _reset(stream: INetStream) -> None:
        with contextlib.suppress(Exception):  # already reset or closed by the peer
            await stream.reset()

    async def _validator(self, forwarder: ID, message: rpc_pb2.Message) -> bool:
        peer = forwarder.to_base58()
        if len(message.data) > limits.entry_bytes_max:
            self._reject(TooLarge(f"gossiped entry of {len(message.data)} bytes"), peer)
            return False
        return await self._validate(peer, bytes(message.data))

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
            except NETWORK_ERRORS as exc:  # gossip is best effort; sync is the guarantee
                log.debug("publish failed", extra={"error": repr(exc)[:200]})
            except Exception as exc:
                report_unexpected(self.metrics, log, "gossip_publish", None, exc)
            await trio.sleep(limits.publish_pace_ms / 1000)
