"""Mesh figures (issue 3): 11 node processes on loopback, every link through the emulator.

    python -m simulations.bench_mesh [--nodes 11] [--rate 20] [--seconds 60] [--json FILE]

Phase 1: entries written at RATE/s through the HTTP API of random nodes for SECONDS.
Phase 2: the same, with every link of node 0 (Belgium) cut for the middle half.
Reports delivery ratio, p50/p99 from acknowledgement on the writer to stored on every
other node (both read from the nodes' own stores: `received_ms`, same machine clock),
CPU seconds per entry per node, RSS per node, and for phase 2 how long the cut node took
to hold everything written before its links came back.
"""

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

from .federation import Cluster, emit


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def received(cluster: Cluster, ids: list[bytes]) -> list[dict[bytes, int]]:
    """For each node: entry id -> when it stored it (ms), for the entries in `ids`."""
    wanted = set(ids)
    return [{i: ms for i, ms in store.items() if i in wanted} for store in cluster.stored()]


async def workload(
    cluster: Cluster, incidents: list[str], rate: float, seconds: float, rng: random.Random
) -> list[dict]:
    """Comments at `rate`/s from random nodes; returns what was acknowledged."""
    acked: list[dict] = []
    clients = [n.client() for n in cluster.nodes]

    async def write(index: int, n: int) -> None:
        incident = rng.choice(incidents)
        try:
            response = await clients[index].post(f"/v1/incidents/{incident}/comments", json={"text": f"report {n}"})
        except Exception:
            return  # a write the API did not acknowledge is not counted
        if response.status_code == 201:
            acked.append({"id": bytes.fromhex(response.json()["id"]), "writer": index, "acked_ms": time.time() * 1000})

    async with trio.open_nursery() as nursery:
        started = trio.current_time()
        for n in range(int(rate * seconds)):
            await trio.sleep_until(started + n / rate)
            nursery.start_soon(write, rng.randrange(len(cluster.nodes)), n)
    for client in clients:
        await client.aclose()
    return acked


async def settle(cluster: Cluster, ids: list[bytes], timeout_s: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if all(len(r) == len(ids) for r in received(cluster, ids)):
            break
        await trio.sleep(0.5)
    return time.monotonic() - started


def delivery(cluster: Cluster, acked: list[dict], nodes: set[int]) -> dict[str, float]:
    ids = [a["id"] for a in acked]
    stores = received(cluster, ids)
    latencies, missing = [], 0
    for a in acked:
        written = stores[a["writer"]].get(a["id"])
        for i in nodes - {a["writer"]}:
            at = stores[i].get(a["id"])
            if at is None or written is None:
                missing += 1
            else:
                latencies.append(at - written)
    expected = sum(len(nodes - {a["writer"]}) for a in acked)
    return {
        "entries": len(acked),
        "deliveries_expected": expected,
        "delivery_ratio": (expected - missing) / expected if expected else float("nan"),
        "latency_p50_ms": percentile(latencies, 50),
        "latency_p99_ms": percentile(latencies, 99),
        "latency_max_ms": max(latencies, default=float("nan")),
    }


async def phase(cluster: Cluster, incidents: list[str], args: Any, rng: random.Random, cut: int | None) -> dict:
    cpu_before = [n.cpu_seconds() for n in cluster.nodes]
    times: dict[str, float] = {}
    cpu_at_cut: list[float] = []
    cpu_at_restore: list[float] = []

    async def faults() -> None:
        await trio.sleep(args.seconds / 4)
        times["cut_ms"] = time.time() * 1000
        cpu_at_cut.extend(n.cpu_seconds() for n in cluster.nodes)
        cluster.links.set_node(cut, up=False)
        await trio.sleep(args.seconds / 2)
        cpu_at_restore.extend(n.cpu_seconds() for n in cluster.nodes)
        cluster.links.set_node(cut, up=True)
        times["restore_ms"] = time.time() * 1000

    async with trio.open_nursery() as nursery:
        if cut is not None:
            nursery.start_soon(faults)
        acked = await workload(cluster, incidents, args.rate, args.seconds, rng)
    settled_s = await settle(cluster, [a["id"] for a in acked], timeout_s=120)
    cpu = [n.cpu_seconds() - b for n, b in zip(cluster.nodes, cpu_before, strict=True)]
    everyone = set(range(len(cluster.nodes)))
    result = {
        **delivery(cluster, acked, everyone),
        "settle_s": settled_s,
        "cpu_s_per_entry_per_node_mean": statistics.mean(cpu) / max(1, len(acked)),
        "cpu_s_per_entry_per_node_max": max(cpu) / max(1, len(acked)),
        "rss_mib_per_node_max": max(n.memory_kib()["VmRSS"] for n in cluster.nodes) / 1024,
        "rss_mib_per_node_mean": statistics.mean(n.memory_kib()["VmRSS"] for n in cluster.nodes) / 1024,
    }
    if cut is not None:
        during = [a for a in acked if times["cut_ms"] <= a["acked_ms"] <= times["restore_ms"] and a["writer"] != cut]
        others = delivery(cluster, during, everyone - {cut})
        result.update({f"others_during_cut_{k}": v for k, v in others.items()})
        before_restore = [a["id"] for a in acked if a["acked_ms"] <= times["restore_ms"]]
        on_cut = received(cluster, before_restore)[cut]
        last = max(on_cut.values(), default=times["restore_ms"])
        result["cut_node_holds_all_before_restore"] = len(on_cut) == len(before_restore)
        result["cut_node_caught_up_s"] = (last - times["restore_ms"]) / 1000
        # While the link is down only (the phase's figure also pays for the catch-up).
        cut_cpu = [b - a for a, b in zip(cpu_at_cut, cpu_at_restore, strict=True)]
        written = sum(1 for a in acked if times["cut_ms"] <= a["acked_ms"] <= times["restore_ms"])
        result["cpu_s_per_entry_per_node_during_cut_mean"] = statistics.mean(cut_cpu) / max(1, written)
    return result


async def main_async(args: Any) -> dict:
    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="qroc-bench-mesh-"))
    cluster = Cluster(root, args.nodes, seed=args.seed, emulated={0})  # node 0's links get cut
    try:
        async with trio.open_nursery() as nursery:
            started = time.monotonic()
            await cluster.start(nursery)
            setup_s = time.monotonic() - started
            incidents = []
            for i, node in enumerate(cluster.nodes):
                async with node.client() as api:
                    body = {"title": f"Manhunt lead {i}", "category": "manhunt", "severity": "high"}
                    incidents.append((await api.post("/v1/incidents", json=body)).json()["id"])
            await settle(cluster, [bytes.fromhex(i) for i in incidents], timeout_s=30)
            report = {"nodes": args.nodes, "rate_per_s": args.rate, "seconds": args.seconds, "startup_s": setup_s}
            for name in args.phases.split(","):
                report[name] = await phase(cluster, incidents, args, rng, cut=0 if name == "one_node_cut" else None)
            report["bytes_through_links"] = sum(cluster.links.bytes_per_link().values())
            nursery.cancel_scope.cancel()
    finally:
        cluster.stop()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=11)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--phases", default="steady,one_node_cut", help="which phases, in order")
    parser.add_argument("--json", help="also write the report here")
    args = parser.parse_args()
    emit(trio.run(main_async, args), args.json)


if __name__ == "__main__":
    main()
