"""HTTP API figures (issue 4), on real node processes.

    python -m simulations.bench_api [--seconds 20] [--clients 1,4,16] [--samples 100] [--json FILE]

1. Sustained `POST /v1/incidents` on one node with durable acknowledgement (each 201
   follows an fsync'd SQLite commit): closed-loop clients, rate and p50/p99 latency.
2. Over 11 nodes: time from the 201 on node A until `GET /v1/incidents/{id}` on node C
   (another random node) returns it, polling C every 2 ms.
3. Durable writes beside gossip (issue 15): two nodes; B writes a probe entry every 50 ms
   and A stores it by gossip — latency from B's clock in the entry to A's `received_ms`
   — first with A idle, then while `--clients` (the largest) clients POST on A: the
   POST rate and p99 on A and the probe latency, measured at once.
"""

import argparse
import random
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

from protocol.hlc import wall_ms

from .bench_mesh import percentile
from .federation import Cluster, NodeProcess, emit

INCIDENT = {"title": "Crowd crush at the stadium north gate", "category": "crowd", "severity": "critical"}
PROBE = {"title": "Gossip probe", "category": "other", "severity": "low"}


async def _posting(node: NodeProcess, deadline: float, latencies: list[float]) -> None:
    """One closed-loop client: POST an incident on `node` until `deadline`, timing each 201."""
    async with node.client() as api:
        while trio.current_time() < deadline:
            started = time.perf_counter()
            response = await api.post("/v1/incidents", json=INCIDENT)
            assert response.status_code == 201, response.text
            latencies.append((time.perf_counter() - started) * 1000)


async def sustained_posts(clients: int, seconds: float) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="qroc-bench-api-"))
    cluster = Cluster(root, 1)
    latencies: list[float] = []
    try:
        async with trio.open_nursery() as nursery:
            await cluster.start(nursery)
            node = cluster.nodes[0]
            cpu_before = node.cpu_seconds()
            deadline = trio.current_time() + seconds

            async with trio.open_nursery() as load:
                for _ in range(clients):
                    load.start_soon(_posting, node, deadline, latencies)
            cpu = node.cpu_seconds() - cpu_before
            nursery.cancel_scope.cancel()
    finally:
        cluster.stop()
    return {
        "clients": clients,
        "posts": len(latencies),
        "posts_per_s": len(latencies) / seconds,
        "latency_p50_ms": percentile(latencies, 50),
        "latency_p99_ms": percentile(latencies, 99),
        "node_cpu_s_per_post": cpu / max(1, len(latencies)),
    }


async def cross_node_visibility(nodes: int, samples: int, rng: random.Random) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="qroc-bench-api-mesh-"))
    cluster = Cluster(root, nodes)
    delays: list[float] = []
    try:
        async with trio.open_nursery() as nursery:
            await cluster.start(nursery)
            await trio.sleep(2)  # every gossip stream open before timing starts
            apis = [n.client() for n in cluster.nodes]
            for _ in range(samples):
                a, c = rng.sample(range(nodes), 2)
                created = await apis[a].post("/v1/incidents", json=INCIDENT)
                acked = time.perf_counter()
                path = f"/v1/incidents/{created.json()['id']}"
                with trio.fail_after(60):
                    while (await apis[c].get(path)).status_code != 200:
                        await trio.sleep(0.002)
                delays.append((time.perf_counter() - acked) * 1000)
            for api in apis:
                await api.aclose()
            nursery.cancel_scope.cancel()
    finally:
        cluster.stop()
    return {
        "nodes": nodes,
        "samples": samples,
        "visible_p50_ms": percentile(delays, 50),
        "visible_p99_ms": percentile(delays, 99),
        "visible_max_ms": max(delays),
    }


async def _probe(node: NodeProcess, seconds: float, ids: list[str]) -> None:
    """Write a probe entry on `node` every 50 ms for `seconds`."""
    async with node.client() as api:
        deadline = trio.current_time() + seconds
        while trio.current_time() < deadline:
            ids.append((await api.post("/v1/incidents", json=PROBE)).json()["id"])
            await trio.sleep(0.05)


def _probe_latencies(cluster: Cluster, ids: list[str]) -> list[float]:
    """ms from the probe's HLC on B (its wall clock) until A stored it."""
    stored = cluster.stored()[0]
    hlcs = {k: v for k, v in _hlcs(cluster.dirs[1].db_path).items() if k.hex() in ids}
    return [float(stored[i] - wall_ms(h)) for i, h in hlcs.items() if i in stored]


def _hlcs(db_path: Path) -> dict[bytes, int]:
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return dict(db.execute("SELECT id, hlc FROM entries WHERE chained = 1").fetchall())
    finally:
        db.close()


async def posts_beside_gossip(clients: int, seconds: float) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="qroc-bench-api-gossip-"))
    cluster = Cluster(root, 2, emulated=set())
    latencies: list[float] = []
    idle_ids: list[str] = []
    loaded_ids: list[str] = []
    try:
        async with trio.open_nursery() as nursery:
            await cluster.start(nursery)
            a, b = cluster.nodes
            await trio.sleep(2)  # every gossip stream open before timing starts
            await _probe(b, seconds / 2, idle_ids)
            deadline = trio.current_time() + seconds

            async with trio.open_nursery() as load:
                for _ in range(clients):
                    load.start_soon(_posting, a, deadline, latencies)
                load.start_soon(_probe, b, seconds, loaded_ids)
            await trio.sleep(1)  # the last probes arrive
            idle, loaded = _probe_latencies(cluster, idle_ids), _probe_latencies(cluster, loaded_ids)
            nursery.cancel_scope.cancel()
    finally:
        cluster.stop()
    return {
        "clients": clients,
        "posts_per_s": len(latencies) / seconds,
        "post_p50_ms": percentile(latencies, 50),
        "post_p99_ms": percentile(latencies, 99),
        "gossip_idle_p50_ms": percentile(idle, 50),
        "gossip_idle_p99_ms": percentile(idle, 99),
        "gossip_loaded_p50_ms": percentile(loaded, 50),
        "gossip_loaded_p99_ms": percentile(loaded, 99),
        "gossip_probes": [len(idle), len(loaded)],
    }


async def main_async(args: Any) -> dict[str, Any]:
    report: dict[str, Any] = {"sustained_posts": []}
    for clients in args.clients:
        report["sustained_posts"].append(await sustained_posts(clients, args.seconds))
    if args.samples:
        report["create_on_a_visible_on_c"] = await cross_node_visibility(
            args.nodes, args.samples, random.Random(args.seed)
        )
    report["posts_beside_gossip"] = await posts_beside_gossip(max(args.clients), args.seconds)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4, 16])
    parser.add_argument("--nodes", type=int, default=11)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="also write the report here")
    args = parser.parse_args()
    emit(trio.run(main_async, args), args.json)


if __name__ == "__main__":
    main()
