"""Anti-entropy over a libp2p stream (`/qroc/sync/1`, SPEC.md §5).

Framing: a 4-byte big-endian length, then the message. The turn-taking and the end of a
session are protocol.sync.Session's; this module only moves its messages. A peer that
disconnects mid-stream looks like a clean end of stream in py-libp2p, so every frame is
length-checked.
"""

import contextlib
import logging
from collections.abc import Callable

import trio
from libp2p.abc import INetStream

from protocol import limits
from protocol.errors import Malformed, TooLarge
from protocol.replica import Replica
from protocol.sync import Received, Session

from ..errors import SessionEnded

PROTOCOL_ID = "/qroc/sync/1"
log = logging.getLogger("qroc.sync")


async def _read_exactly(stream: INetStream, n: int) -> bytes:
    parts, got = [], 0  # joined once at the end: a chunk frame is a megabyte
    while got < n:
        part = await stream.read(n - got)
        if not part:
            raise SessionEnded(f"stream ended after {got} of {n} bytes")
        parts.append(part)
        got += len(part)
    return parts[0] if len(parts) == 1 else b"".join(parts)


async def read_frame(stream: INetStream, bytes_max: int = limits.sync_message_bytes_max, idle: bool = False) -> bytes:
    """One frame of at most `bytes_max`. `idle`: the stream may wait for its next frame as
    long as it likes (gossip); a frame once begun must arrive within the timeout."""
    if idle:
        prefix = await _read_exactly(stream, 4)
    with trio.fail_after(limits.sync_message_timeout_ms_max / 1000):
        if not idle:
            prefix = await _read_exactly(stream, 4)
        length = int.from_bytes(prefix, "big")
        if length > bytes_max:
            raise TooLarge(f"frame of {length} bytes, over {bytes_max}")
        if length == 0:
            raise Malformed("empty frame")
        return await _read_exactly(stream, length)


async def write_frame(stream: INetStream, data: bytes) -> None:
    with trio.fail_after(limits.sync_message_timeout_ms_max / 1000):
        if len(data) < 65536:
            await stream.write(len(data).to_bytes(4, "big") + data)
        else:  # a chunk frame: a second small write is cheaper than copying a megabyte
            await stream.write(len(data).to_bytes(4, "big"))
            await stream.write(data)


async def close_quietly(stream: INetStream) -> None:
    """Close a stream whatever state it is in, even while our scope is being cancelled."""
    with trio.move_on_after(limits.stream_close_ms_max / 1000) as cleanup:
        cleanup.shield = True
        with contextlib.suppress(Exception):  # already reset or closed by the peer
            await stream.close()


async def run_session(
    stream: INetStream,
    session: Session,
    replica: Replica,
    now_ms: Callable[[], int],
    on_received: Callable[[Received], None],
) -> int:
    """Carry one sync session (protocol.sync.Session decides what is said and when it is
    over) over `stream`; returns the number of messages exchanged. Raises ProtocolError on
    a malformed message, SessionEnded if the peer goes away."""
    while not session.done:
        if session.my_turn:
            await write_frame(stream, session.outgoing(replica, now_ms()))
        else:
            data = await read_frame(stream)
            on_received(session.incoming(replica, data, now_ms()))
    return session.messages
