"""Liveness probes on `/qroc/alive/1`.

A link that fails silently (a cut line, a routing failure: no reset reaches either end)
leaves TCP connections that look open, and TCP's retransmission back-off then grows to
two minutes (after a ten-minute cut in network namespaces the halves took 11.5 s to
reconverge once the link was back). So every liveness_probe_interval_ms each connected
member is asked to echo one byte; a member that misses liveness_probes_missed_max
probes in a row (each given liveness_timeout_ms) has its connection closed, and the dialer keeps trying until the
link is back (its dials time out while the link is down, then succeed at once).
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
    try:
        with trio.move_on_after(limits.liveness_timeout_ms / 1000):
            data = await stream.read(1)
            if data:
                await stream.write(data)
    except Exception:  # the prober went away: nothing to answer
        pass
    finally:
        await close_quietly(stream)


async def probe_forever(host: IHost, connected: dict[str, int]) -> None:
    missed: dict[str, int] = {}  # peer -> probes unanswered in a row
    while True:
        await trio.sleep(limits.liveness_probe_interval_ms / 1000)
        for peer in [p for p in missed if p not in connected]:
            del missed[peer]
        async with trio.open_nursery() as nursery:  # one probe per member: bounded by the roster
            for peer in list(connected):
                nursery.start_soon(_probe, host, peer, missed)


async def _probe(host: IHost, peer: str, missed: dict[str, int]) -> None:
    answered, error = False, ""
    with trio.move_on_after(limits.liveness_timeout_ms / 1000):
        try:
            stream = await host.new_stream(ID.from_base58(peer), [PROTOCOL_ID])
            try:
                await stream.write(b"\x01")
                answered = await stream.read(1) == b"\x01"
            finally:
                await close_quietly(stream)
        except Exception as exc:  # e.g. the stream's negotiation timed out on a dead link
            error = repr(exc)[:200]
    missed[peer] = 0 if answered else missed.get(peer, 0) + 1
    if missed[peer] < limits.liveness_probes_missed_max:
        return
    log.warning("member not answering: closing its connection", extra={"peer": peer, "error": error})
    del missed[peer]
    with trio.move_on_after(3) as cleanup:
        cleanup.shield = True
        try:
            await host.get_network().close_peer(ID.from_base58(peer))
        except Exception as exc:  # already closing
            log.debug("close failed", extra={"peer": peer, "error": repr(exc)[:200]})
