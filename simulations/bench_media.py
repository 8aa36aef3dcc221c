"""Media figures (issue 5, our side): one file from one node to N others on loopback.

    python -m simulations.bench_media [--mib 100] [--others 3,10] [--json FILE]

For each N: N+1 node processes with direct links; the file is uploaded (streamed) to node
0's API; reported: seconds from the upload's 201 until every node holds every chunk, the
upload time, and each node's peak RSS (VmHWM).
"""

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

from .federation import Cluster, emit

BLOCK = 1024 * 1024


async def spread(others: int, mib: int) -> dict[str, Any]:
    cluster = Cluster(Path(tempfile.mkdtemp(prefix="qroc-bench-media-")), others + 1, emulated=set())
    try:
        async with trio.open_nursery() as nursery:
            await cluster.start(nursery)
            source = cluster.nodes[0]
            async with source.client() as api:
                incident = (
                    await api.post("/v1/incidents", json={"title": "CCTV", "category": "manhunt", "severity": "high"})
                ).json()["id"]

                async def body() -> Any:
                    for _ in range(mib):
                        yield os.urandom(BLOCK)

                started = time.monotonic()
                response = await api.post(
                    f"/v1/incidents/{incident}/media",
                    params={"name": "cctv.mp4"},
                    content=body(),
                    headers={"content-type": "video/mp4"},
                )
                uploaded = time.monotonic()
                media = response.json()["id"]
            clients = [n.client() for n in cluster.nodes[1:]]
            pending = set(range(len(clients)))
            done_at: dict[int, float] = {}
            with trio.fail_after(900):
                while pending:
                    for i in list(pending):
                        status = (await clients[i].get(f"/v1/media/{media}/status")).json()
                        if status["complete"]:
                            pending.discard(i)
                            done_at[i] = time.monotonic() - uploaded
                    await trio.sleep(0.1)
            for client in clients:
                await client.aclose()
            peaks = [n.memory_kib()["VmHWM"] / 1024 for n in cluster.nodes]
            nursery.cancel_scope.cancel()
    finally:
        cluster.stop()
    return {
        "others": others,
        "mib": mib,
        "upload_s": uploaded - started,
        "complete_everywhere_s": max(done_at.values()),
        "complete_first_s": min(done_at.values()),
        "peak_rss_mib_source": peaks[0],
        "peak_rss_mib_receivers_max": max(peaks[1:]),
    }


async def main_async(args: Any) -> list[dict[str, Any]]:
    return [await spread(n, args.mib) for n in args.others]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=100)
    parser.add_argument("--others", type=lambda s: [int(x) for x in s.split(",")], default=[3, 10])
    parser.add_argument("--json")
    args = parser.parse_args()
    emit(trio.run(main_async, args), args.json)


if __name__ == "__main__":
    main()
