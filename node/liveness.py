"""Liveness probes on `/qroc/alive/1`.

A link that fails silently (a cut line, a routing failure: no reset reaches either end)
leaves TCP connections that look open, and TCP's retransmission back-off then grows to
two minutes (after a ten-minute cut in network namespaces the halves took 11.5 s to
reconverge once the link was back). So every liveness_probe_interval_ms each connected
member is asked to echo one byte, on one stream per member kept open (opening a stream
per probe cost measurable CPU on a loaded node); a member that misses
liveness_probes_missed_max probes in a row (each given liveness_timeout_ms) has its
connection closed, and the dialer keeps trying until the link is back (its dials time
out while the link is down, then succeed at once).
"""

import logging

import trio
from libp2p.abc import IHost, INetStream
from libp2p.peer.id import ID

from protocol import limits

from .syncer import close_quietly

PROTOCOL_ID = "/qroc/alive/1"
log = logging.getLogger("qroc.liveness")


async def handle_probe(stream: INetStream) -> None:
    """Echo each byte until the prober closes the stream or goes quiet for long."""
    try:
        while True:
            with trio.fail_after(2 * limits.liveness_probe_interval_ms / 1000 + limits.liveness_timeout_ms / 1000):
                data = await stream.read(1)
                if not data:
                    return
                await stream.write(data)
    except Exception:  # the prober went away (or its link did): nothing to answer
        pass
    finally:
        await close_quietly(stream)


class Prober:
    def __init__(self, host: IHost, connected: dict[str, int]) -> None:
        self.host = host
        self.connected = connected
        self.missed: dict[str, int] = {}  # peer -> probes unanswered in a row
        self.streams: dict[str, INetStream] = {}

    async def run(self) -> None:
        try:
            while True:
                await trio.sleep(limits.liveness_probe_interval_ms / 1000)
                for peer in [p for p in self.streams if p not in self.connected]:
                    await close_quietly(self.streams.pop(peer))
                    self.missed.pop(peer, None)
                async with trio.open_nursery() as nursery:  # one probe per member: bounded by the roster
                    for peer in list(self.connected):
                        nursery.start_soon(self._probe, peer)
        finally:
            for stream in self.streams.values():
                await close_quietly(stream)

    async def _probe(self, peer: str) -> None:
        answered, error = False, ""
        with trio.move_on_after(limits.liveness_timeout_ms / 1000):
            try:
                stream = self.streams.get(peer)
                if stream is None:
                    stream = self.streams[peer] = await self.host.new_stream(ID.from_base58(peer), [PROTOCOL_ID])
                await stream.write(b"\x01")
                answered = await stream.read(1) == b"\x01"
            except Exception as exc:  # e.g. the stream's negotiation timed out on a dead link
                error = repr(exc)[:200]
        if not answered:
            stream = self.streams.pop(peer, None)  # a stream left mid-probe is not reused
            if stream is not None:
                await close_quietly(stream)
        self.missed[peer] = 0 if answered else self.missed.get(peer, 0) + 1
        if self.missed[peer] < limits.liveness_probes_missed_max:
            return
        log.warning("member not answering: closing its connection", extra={"peer": peer, "error": error})
        del self.missed[peer]
        with trio.move_on_after(3) as cleanup:
            cleanup.shield = True
            try:
                await self.host.get_network().close_peer(ID.from_base58(peer))
            except Exception as exc:  # already closing
                log.debug("close failed", extra={"peer": peer, "error": repr(exc)[:200]})
