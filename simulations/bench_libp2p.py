"""The floor under media transfer: CPU per MiB of bare py-libp2p request/response.

    python -m simulations.bench_libp2p [--mib 100] [--streams 1,4]

Two py-libp2p hosts in this process (TCP + Noise + Yamux on loopback, as the nodes use);
one asks, the other answers each request with 1 MiB, on `streams` streams at once.
Reported: MiB/s and CPU milliseconds per MiB for both ends together — what any transfer
over py-libp2p costs before a node does any work of its own (compare bench_media).
"""

import argparse
import resource
import time
from typing import Any

import multiaddr
import trio
from libp2p import new_host
from libp2p.abc import INetStream
from libp2p.crypto.secp256k1 import create_new_key_pair
from libp2p.custom_types import TProtocol
from libp2p.peer.peerinfo import info_from_p2p_addr

from .federation import emit

PROTOCOL = TProtocol("/qroc-bench/1")
MIB = 1024 * 1024


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _read(stream: INetStream, n: int) -> None:
    while n:
        n -= len(await stream.read(n))


async def measure(mib: int, streams: int) -> dict[str, Any]:
    asker, answerer = (new_host(key_pair=create_new_key_pair(bytes([i]) * 32)) for i in (1, 2))
    payload = bytes(MIB)

    async def answer(stream: INetStream) -> None:
        try:
            while await stream.read(4):
                await stream.write(payload)
        except Exception:  # the asker closed its end
            pass

    answerer.set_stream_handler(PROTOCOL, answer)
    loopback = [multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]
    async with asker.run(loopback), answerer.run(loopback):
        await asker.connect(info_from_p2p_addr(answerer.get_addrs()[0]))

        async def ask() -> None:
            stream = await asker.new_stream(answerer.get_id(), [PROTOCOL])
            for _ in range(mib // streams):
                await stream.write(b"next")
                await _read(stream, MIB)

        cpu, started = _cpu_s(), time.perf_counter()
        async with trio.open_nursery() as nursery:
            for _ in range(streams):
                nursery.start_soon(ask)
        seconds, cpu = time.perf_counter() - started, _cpu_s() - cpu
    moved = mib // streams * streams
    return {"streams": streams, "mib": moved, "mib_per_s": moved / seconds, "cpu_ms_per_mib": cpu * 1000 / moved}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=100)
    parser.add_argument("--streams", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4])
    parser.add_argument("--json")
    args = parser.parse_args()
    emit([trio.run(measure, args.mib, n) for n in args.streams], args.json)


if __name__ == "__main__":
    main()
