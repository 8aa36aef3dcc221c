"""How fast a restarted node is back in the mesh (issue 3: "within ~2 s").

    python -m simulations.bench_reconnect [--nodes 5] [--rounds 5]

Node processes with direct links; one is stopped (SIGTERM), left down for a few seconds,
restarted; reported: seconds from its restart until it answers its API, and until every
other node reports it connected again.
"""

import argparse
import tempfile
import time
from pathlib import Path

import httpx
import trio

from .federation import Cluster, emit


async def main_async(nodes: int, rounds: int) -> dict[str, list[float]]:
    cluster = Cluster(Path(tempfile.mkdtemp(prefix="qroc-bench-reconnect-")), nodes, emulated=set())
    answering, reconnected = [], []
    try:
        async with trio.open_nursery() as nursery:
            await cluster.start(nursery)
            victim = cluster.nodes[-1]
            peer_id = victim.datadir.identity().peer_id
            for _ in range(rounds):
                victim.stop()
                await trio.sleep(3)
                started = time.monotonic()
                victim.start()
                async with victim.client() as api:
                    while True:
                        try:
                            if (await api.get("/v1/health")).status_code == 200:
                                break
                        except httpx.TransportError:
                            pass
                        await trio.sleep(0.02)
                answering.append(time.monotonic() - started)
                for other in cluster.nodes[:-1]:
                    async with other.client() as api:
                        while True:
                            peers = (await api.get("/v1/peers")).json()["peers"]
                            if any(p["peer_id"] == peer_id and p["connected"] for p in peers):
                                break
                            await trio.sleep(0.02)
                reconnected.append(time.monotonic() - started)
            nursery.cancel_scope.cancel()
    finally:
        cluster.stop()
    return {"api_answering_s": answering, "all_peers_connected_s": reconnected}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    emit(trio.run(main_async, args.nodes, args.rounds), None)


if __name__ == "__main__":
    main()
