"""Gossip fast path, on our own stream protocol (`/qroc/gossip/1`; frames and the
forwarding rule: protocol/gossip.py, SPEC.md §5.2).

Why not py-libp2p's gossipsub: measured on 11 node processes at 20 entries/s, it cost
6.7 ms of CPU per entry per node (a task per message, a signed peer record verified in
every RPC, IHAVE/IWANT bookkeeping and heartbeats), and it drops messages silently in
several places (py-libp2p-0.8.1.md). Entries are signed by their authors and the roster
is small and known: one stream per connected member and direction is enough.

For each connected member one sender task owns our outbound stream to it: it takes what
is queued for that member (bounded: beyond, a push is dropped and sync carries it) and
writes it as one frame. The member's stream to us is read by `_handle_stream`: each push
of an entry new to gossip here goes to `validate(peer, envelope)` (the node decodes,
verifies and stores it), which says whether to forward it; a push of one seen before
costs a hash. Announced heads go to `on_heads(peer, heads)`.

Hostile input is rejected (reason, source gossip) and counted: a frame over its bound or
that does not parse closes the stream that carried it; an entry over entry_bytes_max is
dropped alone, never validated.
"""

import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import trio
from libp2p.abc import IHost, INetStream
from libp2p.peer.id import ID

from protocol import limits
from protocol.errors import InvalidField, ProtocolError, TooLarge
from protocol.gossip import Frame, Push, decode_frame, tag
from protocol.identity import hash32, public_key_of
from protocol.replica import Heads

from ..errors import NETWORK_ERRORS, report_unexpected
from ..metrics import Metrics
from .syncer import close_quietly, read_frame, write_frame

PROTOCOL_ID = "/qroc/gossip/1"
log = logging.getLogger("qroc.gossip")

Validate = Callable[[str, bytes], Awaitable[bool]]
OnHeads = Callable[[str, Heads], None]
OnRejected = Callable[[ProtocolError, str], None]  # (why, peer): the node counts and logs it
Queued = Push | Heads


def _log_rejected(exc: ProtocolError, peer: str) -> None:
    log.warning("gossip input rejected", extra={"reason": exc.reason, "peer": peer, "detail": str(exc)[:200]})


def _tag_of(peer: str) -> bytes | None:
    try:
        return tag(public_key_of(peer))
    except InvalidField:  # not an Ed25519 peer: never a member
        return None


class Gossip:
    def __init__(
        self,
        host: IHost,
        validate: Validate,
        on_rejected: OnRejected | None = None,
        metrics: Metrics | None = None,
        on_heads: OnHeads | None = None,
    ) -> None:
        self.host = host
        self._validate = validate
        self._on_heads = on_heads
        self._on_rejected = on_rejected if on_rejected is not None else _log_rejected
        self.metrics = metrics if metrics is not None else Metrics()
        self.me = _tag_of(host.get_id().to_base58())
        self._peers: dict[str, tuple[bytes, trio.MemorySendChannel[Queued]]] = {}  # peer -> (tag, queue)
        self._nursery: trio.Nursery | None = None
        self._seen: OrderedDict[bytes, None] = OrderedDict()  # entry ids pushed to us or by us, latest last
        self.dropped_publishes = 0  # pushes not sent: a full queue or a broken stream (sync repairs)
        self.broken_streams = 0
        self.rejected = 0
        host.set_stream_handler(PROTOCOL_ID, self._handle_stream)

    @asynccontextmanager
    async def running(self) -> AsyncIterator["Gossip"]:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            try:
                yield self
            finally:
                self._nursery = None
                for _, queue in self._peers.values():
                    queue.close()
                self._peers.clear()
                nursery.cancel_scope.cancel()

    # --- members coming and going (the node's connection events) ---

    def peer_connected(self, peer: str) -> None:
        peer_tag = _tag_of(peer)
        if self._nursery is None or peer in self._peers or peer_tag is None:
            return
        send, receive = trio.open_memory_channel[Queued](limits.gossip_queue_max)
        self._peers[peer] = (peer_tag, send)
        self._nursery.start_soon(self._sender, peer, receive)

    def peer_disconnected(self, peer: str) -> None:
        gone = self._peers.pop(peer, None)
        if gone is not None:
            gone[1].close()

    # --- what we send ---

    def publish(self, envelope: bytes) -> None:
        """Push our own entry to every member we are connected to."""
        self._first(envelope)
        self._push(envelope, frozenset() if self.me is None else frozenset({self.me}), None)

    def announce(self, peer: str, heads: Heads) -> None:
        """Our heads to `peer`, if we are connected to it."""
        if peer in self._peers:
            self._queue(peer, heads)

    def _push(self, envelope: bytes, covered: frozenset[bytes], source: str | None) -> None:
        targets = {peer: t for peer, (t, _) in self._peers.items() if peer != source and t not in covered}
        push = Push(envelope, covered | set(targets.values()))
        for peer in targets:
            self._queue(peer, push)

    def _queue(self, peer: str, item: Queued) -> None:
        try:
            self._peers[peer][1].send_nowait(item)
        except trio.WouldBlock:
            self.dropped_publishes += 1

    async def _sender(self, peer: str, queue: trio.MemoryReceiveChannel[Queued]) -> None:
        """Write what is queued for `peer`, as many pushes per frame as are waiting; on a
        broken stream, what it carried is dropped (sync repairs) and a new one is opened."""
        stream: INetStream | None = None
        try:
            async for first in queue:
                frame = _frame(first, queue)
                try:
                    if stream is None:
                        with trio.fail_after(limits.sync_message_timeout_ms_max / 1000):
                            stream = await self.host.new_stream(ID.from_base58(peer), [PROTOCOL_ID])
                    await write_frame(stream, frame.encode())
                except Exception as exc:  # the network's weather, or a bug: this member's gossip goes on
                    self.dropped_publishes += len(frame.pushes)
                    if isinstance(exc, NETWORK_ERRORS):
                        log.debug("gossip stream broke", extra={"peer": peer, "error": repr(exc)[:200]})
                    else:
                        report_unexpected(self.metrics, log, "gossip_send", peer, exc)
                    if stream is not None:
                        await close_quietly(stream)
                        stream = None
                    await trio.sleep(limits.sync_retry_ms / 1000)
        finally:
            if stream is not None:
                await close_quietly(stream)

    # --- what we receive ---

    async def _handle_stream(self, stream: INetStream) -> None:
        peer = stream.muxed_conn.peer_id.to_base58()
        peer_tag = _tag_of(peer)
        try:
            while True:
                frame = decode_frame(await read_frame(stream, limits.gossip_frame_bytes_max, idle=True))
                for push in frame.pushes:
                    if len(push.envelope) > limits.entry_bytes_max:
                        self._reject(TooLarge(f"gossiped entry of {len(push.envelope)} bytes"), peer)
                    elif not self._first(push.envelope):
                        continue  # validated (and forwarded) when it first came
                    elif await self._validate(peer, push.envelope) and peer_tag is not None:
                        self._push(push.envelope, push.covered | {peer_tag}, peer)
                if frame.heads is not None and self._on_heads is not None:
                    self._on_heads(peer, frame.heads)
        except ProtocolError as exc:  # a frame over its bound or that does not parse
            self.broken_streams += 1
            self._reject(exc, peer)
            await _reset(stream)
        except NETWORK_ERRORS as exc:  # the link failed or the peer left
            log.debug("gossip stream ended", extra={"peer": peer, "error": repr(exc)[:200]})
        except Exception as exc:
            self.broken_streams += 1
            report_unexpected(self.metrics, log, "gossip_stream", peer, exc)
            await _reset(stream)
        finally:
            await close_quietly(stream)

    def _first(self, envelope: bytes) -> bool:
        """Whether this entry is new to gossip here (the most recent gossip_seen_max kept)."""
        entry_id = hash32(envelope)
        if entry_id in self._seen:
            return False
        self._seen[entry_id] = None
        if len(self._seen) > limits.gossip_seen_max:
            self._seen.popitem(last=False)
        return True

    def _reject(self, exc: ProtocolError, peer: str) -> None:
        self.rejected += 1
        self._on_rejected(exc, peer)


def _frame(first: Queued, queue: trio.MemoryReceiveChannel[Queued]) -> Frame:
    """`first` and whatever else is already waiting, up to a frame's bound (the latest heads)."""
    pushes: list[Push] = []
    heads: Heads | None = None
    item: Queued | None = first
    while item is not None:
        if isinstance(item, Push):
            pushes.append(item)
        else:
            heads = item
        if len(pushes) == limits.gossip_frame_pushes_max:
            break
        try:
            item = queue.receive_nowait()
        except (trio.WouldBlock, trio.EndOfChannel):
            item = None
    return Frame(tuple(pushes), heads)


async def _reset(stream: INetStream) -> None:
    try:
        await stream.reset()
    except Exception:  # already reset or closed by the peer
        log.debug("gossip stream already closed")
