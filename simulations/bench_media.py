"""Media figures (issue 5): one file from one node to N others on loopback, ours and
Syncthing's side by side in the same run.

    python -m simulations.bench_media [--mib 100] [--others 3,10] [--no-syncthing]
                                      [--shaped-mbit 100 [--shaped-others 3]] [--json FILE]

For each N, one random file:
(1) N+1 node processes with direct links; the file is uploaded (streamed) to node 0's
    API; reported: seconds from the upload's 201 (every chunk hashed and durable at the
    source) until every node holds every chunk, the upload time, the CPU time all nodes
    spent meanwhile, and each node's peak RSS (VmHWM).
(2) N+1 Syncthing devices (simulations/syncthing.py): the same file is dropped into
    device 0's folder and a scan requested; reported: seconds from the end of the scan
    (the file hashed and indexed) until every device holds the file, the scan time, the
    CPU time, peak RSS.
The ratio compares the two distribution times. With --shaped-mbit (root): the same again
with N = --shaped-others, each node in its own network namespace with its upload shaped
by tbf (simulations/netns.py), both times also as a ratio of the swarming bound.
"""

import argparse
import contextlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import trio

from . import syncthing
from .federation import Cluster, emit
from .netns import Namespaces, why_unavailable

BLOCK = 1024 * 1024


async def spread(others: int, path: Path, netns: Namespaces | None = None) -> dict[str, Any]:
    root = path.parent / f"qroc-{others}"
    root.mkdir()
    cluster = Cluster(root, others + 1, emulated=set(), netns=netns)
    try:
        async with trio.open_nursery() as nursery:
            await cluster.start(nursery)
            source = cluster.nodes[0]
            async with source.client() as api:
                incident = (
                    await api.post("/v1/incidents", json={"title": "CCTV", "category": "manhunt", "severity": "high"})
                ).json()["id"]

                async def body() -> Any:
                    with path.open("rb") as f:
                        while block := f.read(BLOCK):
                            yield block

                started = time.monotonic()
                response = await api.post(
                    f"/v1/incidents/{incident}/media",
                    params={"name": "cctv.mp4"},
                    content=body(),
                    headers={"content-type": "video/mp4"},
                )
                uploaded = time.monotonic()
                media = response.json()
            cpu_before = sum(n.cpu_seconds() for n in cluster.nodes)
            # Polled on disk, as Syncthing's side is: API polls would cost the nodes CPU.
            pending = set(range(1, len(cluster.nodes)))
            done_at: dict[int, float] = {}
            with trio.fail_after(900):
                while pending:
                    for i in list(pending):
                        if _chunk_files(cluster.dirs[i].chunks_path) >= media["chunks"]:
                            pending.discard(i)
                            done_at[i] = time.monotonic() - uploaded
                    await trio.sleep(0.05)
            cpu = sum(n.cpu_seconds() for n in cluster.nodes) - cpu_before
            served = []
            for i, node in enumerate(cluster.nodes):
                async with node.client() as api:
                    if i:
                        assert (await api.get(f"/v1/media/{media['id']}/status")).json()["complete"]
                    metrics = (await api.get("/metrics")).text
                    served.append(int(float(re.search(r"^qroc_chunks_served_total (\S+)", metrics, re.M)[1])))
            peaks = [n.memory_kib()["VmHWM"] / 1024 for n in cluster.nodes]
            nursery.cancel_scope.cancel()
    finally:
        cluster.stop()
    return {
        "upload_s": uploaded - started,
        "complete_everywhere_s": max(done_at.values()),
        "complete_first_s": min(done_at.values()),
        "complete_s_per_receiver": [round(done_at[i], 2) for i in sorted(done_at)],
        "cpu_s_all_nodes": cpu,
        "chunks_served": served,
        "peak_rss_mib_source": peaks[0],
        "peak_rss_mib_receivers_max": max(peaks[1:]),
    }


def _chunk_files(root: Path) -> int:
    return sum(1 for sub in root.glob("??") for f in sub.iterdir() if not f.name.startswith("."))


async def _counting_bytes(netns: Namespaces | None, run: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    """`run`'s report, plus in namespaces what each node uploaded, in MiB (the source's
    share shows how often it sent a chunk more than once)."""
    before = netns.sent_bytes() if netns else []
    report = await run
    if netns:
        report["uploaded_mib"] = [(b - a) / BLOCK for a, b in zip(before, netns.sent_bytes(), strict=True)]
    return report


def swarm_bound_s(mib: int, others: int, rate_mbit: float) -> float:
    """The least time to give F bits to N receivers when every node uploads at u:
    max(F/u_source, N·F/Σu) (Σu over all N+1 nodes)."""
    bits, u = mib * BLOCK * 8, rate_mbit * 1e6
    return max(bits / u, others * bits / ((others + 1) * u))


async def compare(others: int, mib: int, with_syncthing: bool, rate_mbit: float | None = None) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="qroc-bench-media-"))
    try:
        path = root / "cctv.mp4"
        with path.open("wb") as f:
            for _ in range(mib):
                f.write(os.urandom(BLOCK))
        report: dict[str, Any] = {"others": others, "mib": mib, "upload_shaped_mbit": rate_mbit}
        with Namespaces(others + 1, rate_mbit) if rate_mbit else contextlib.nullcontext() as netns:
            report["qroc"] = await _counting_bytes(netns, spread(others, path, netns))
            if with_syncthing:
                report["syncthing"] = await _counting_bytes(netns, syncthing.spread(root, others, path, netns))
        ours = report["qroc"]["complete_everywhere_s"]
        if with_syncthing:
            report["ratio_to_syncthing"] = ours / report["syncthing"]["complete_everywhere_after_scan_s"]
        if rate_mbit:
            bound = report["swarm_bound_s"] = swarm_bound_s(mib, others, rate_mbit)
            report["qroc_ratio_to_bound"] = ours / bound
            if with_syncthing:
                report["syncthing_ratio_to_bound"] = report["syncthing"]["complete_everywhere_after_scan_s"] / bound
        return report
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def main_async(args: Any) -> list[dict[str, Any]]:
    with_syncthing = not args.no_syncthing
    if with_syncthing and not syncthing.available():
        raise SystemExit("syncthing is not installed (apt-get install syncthing), or pass --no-syncthing")
    if args.shaped_mbit and (why := why_unavailable()):
        raise SystemExit(f"--shaped-mbit: {why}")
    reports = [await compare(n, args.mib, with_syncthing) for n in args.others]
    if args.shaped_mbit:
        reports.append(await compare(args.shaped_others, args.mib, with_syncthing, args.shaped_mbit))
    return reports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=100)
    parser.add_argument("--others", type=lambda s: [int(x) for x in s.split(",") if x], default=[3, 10])
    parser.add_argument("--no-syncthing", action="store_true")
    parser.add_argument("--shaped-mbit", type=float, help="also run in network namespaces, uploads shaped (root)")
    parser.add_argument("--shaped-others", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    emit(trio.run(main_async, args), args.json)


if __name__ == "__main__":
    main()
