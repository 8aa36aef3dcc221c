"""A link emulator without root: one TCP proxy per directed link between two nodes.

Node i dials node j at the proxy for (i, j), which forwards to j's real listen address.
The controller can cut and restore a link, add delay and jitter, and cap its bandwidth;
every byte is counted. A cut closes the link's open connections and refuses new ones at
once (the dialler sees a reset, as after a routing failure), so partitions of any shape
are sets of cut links.
"""

import random
from dataclasses import dataclass, field

import trio

CHUNK_BYTES = 64 * 1024
# Bytes in flight inside one direction of a proxied connection: bounds the proxy's memory
# like a socket buffer would.
QUEUE_CHUNKS = 64


@dataclass
class Shape:
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    rate_bytes_per_s: float | None = None


@dataclass
class Link:
    src: int
    dst: int
    target: tuple[str, int]
    port: int = 0
    up: bool = True
    shape: Shape = field(default_factory=Shape)
    bytes_forward: int = 0  # src -> dst
    bytes_back: int = 0  # dst -> src
    _scopes: set[trio.CancelScope] = field(default_factory=set)

    def cut(self) -> None:
        self.up = False
        for scope in list(self._scopes):
            scope.cancel()

    def restore(self) -> None:
        self.up = True


class LinkControl:
    """Faults on the links between n nodes, whatever carries them: the proxies below, or
    the kernel (simulations/netns.py). A link (a, b) is what a uses to reach b."""

    def pairs(self) -> list[tuple[int, int]]:
        raise NotImplementedError

    def set_link(self, a: int, b: int, up: bool) -> None:
        raise NotImplementedError

    def shape_node(self, node: int, shape: Shape) -> None:
        """Every link to and from `node` gets `shape` (Shape() lifts it)."""
        raise NotImplementedError

    def bytes_per_link(self) -> dict[tuple[int, int], int]:
        raise NotImplementedError

    def set_node(self, node: int, up: bool) -> None:
        for a, b in self.pairs():
            if node in (a, b):
                self.set_link(a, b, up)

    def partition(self, groups: list[set[int]]) -> None:
        """Cut every link between different groups; restore links inside a group. A node in
        no group is alone."""
        where = {n: g for g, members in enumerate(groups) for n in members}
        for a, b in self.pairs():
            self.set_link(a, b, a in where and b in where and where[a] == where[b])

    def heal(self) -> None:
        for a, b in self.pairs():
            self.set_link(a, b, True)


class LinkEmulator(LinkControl):
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.links: dict[tuple[int, int], Link] = {}

    def add(self, src: int, dst: int, target: tuple[str, int]) -> Link:
        link = self.links[(src, dst)] = Link(src, dst, target)
        return link

    def pairs(self) -> list[tuple[int, int]]:
        return list(self.links)

    def set_link(self, a: int, b: int, up: bool) -> None:
        link = self.links[(a, b)]
        link.restore() if up else link.cut()

    def shape_node(self, node: int, shape: Shape) -> None:
        for (a, b), link in self.links.items():
            if node in (a, b):
                link.shape = shape

    def bytes_per_link(self) -> dict[tuple[int, int], int]:
        """Both directions of the connections a opened to b."""
        return {key: link.bytes_forward + link.bytes_back for key, link in self.links.items()}

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            for link in self.links.values():
                listeners = await trio.open_tcp_listeners(link.port, host="127.0.0.1")
                link.port = listeners[0].socket.getsockname()[1]
                nursery.start_soon(trio.serve_listeners, lambda s, link=link: self._serve(link, s), listeners)
            task_status.started()

    async def _serve(self, link: Link, inbound: trio.SocketStream) -> None:
        async with inbound:
            if not link.up:
                return
            try:
                outbound = await trio.open_tcp_stream(*link.target)
            except OSError:
                return
            async with outbound:
                with trio.CancelScope() as scope:
                    link._scopes.add(scope)
                    try:
                        async with trio.open_nursery() as nursery:
                            nursery.start_soon(self._pump, link, inbound, outbound, True, nursery.cancel_scope)
                            nursery.start_soon(self._pump, link, outbound, inbound, False, nursery.cancel_scope)
                    finally:
                        link._scopes.discard(scope)

    async def _pump(
        self, link: Link, source: trio.SocketStream, sink: trio.SocketStream, forward: bool, done: trio.CancelScope
    ) -> None:
        send, receive = trio.open_memory_channel[tuple[float, bytes]](QUEUE_CHUNKS)

        async def read() -> None:
            last_due = 0.0
            async with send:
                while True:
                    try:
                        data = await source.receive_some(CHUNK_BYTES)
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        data = b""
                    if not data:
                        return
                    jitter = self.rng.uniform(0, link.shape.jitter_ms) if link.shape.jitter_ms else 0.0
                    # TCP keeps order: a chunk is never due before the one ahead of it.
                    last_due = max(last_due, trio.current_time() + (link.shape.delay_ms + jitter) / 1000)
                    try:
                        await send.send((last_due, data))
                    except trio.BrokenResourceError:
                        return  # the writer stopped: the other end is gone

        async def write() -> None:
            async with receive:
                async for due, data in receive:
                    await trio.sleep_until(due)
                    try:
                        await sink.send_all(data)
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        done.cancel()
                        return
                    if forward:
                        link.bytes_forward += len(data)
                    else:
                        link.bytes_back += len(data)
                    if link.shape.rate_bytes_per_s:
                        await trio.sleep(len(data) / link.shape.rate_bytes_per_s)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read)
            nursery.start_soon(write)
        done.cancel()  # one direction closed: close the connection, as TCP would
