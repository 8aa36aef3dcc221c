"""Every performance figure of issue 15, each beside its reference measured in the same run.

    python -m simulations.bench_all [--rates 20,40,60,80,100,120] [--no-media] [--no-scale] [--json FILE]

Runs each benchmark in its own process, one after another on an otherwise idle machine
(so that none measures another), reads their reports and prints one table: the figure,
its reference, the ratio, the target, and whether it is met; the JSON holds the table and
every benchmark's whole report.

- Entries (bench_mesh, 11 nodes, steady phase): CPU per gossiped entry per node against
  a raw Ed25519 verify (bench_protocol); write-to-stored p99 at 20 entries/s and delivery;
  the largest of `--rates` (tried upwards until one fails) that 11 nodes carry with p99
  at most 1 s and everything delivered.
- Durable writes (bench_api): 16 clients' POSTs/s and p99, and a gossip probe's p99 on
  the same node while they run, against the probe's p99 with the node idle.
- Media (bench_libp2p, bench_media): CPU per MiB delivered against bare py-libp2p
  request/response; 100 MiB to 3 and to 10 receivers against Syncthing; with root, 4
  nodes with 100 Mbit/s uploads against the swarming bound, and what the author sent.
- Scale (bench_scale --no-profile): RSS and start-up with 100,000 entries against an
  empty node; the simulator at 1,000 replicas against 100.
Two references cannot run here and are the issue's own figures, named as such:
js-libp2p gossipsub's p99 (14.7 ms) and the POST rate before group commit (396/s).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from .bench_scale import figure, table
from .federation import emit

JS_LIBP2P_P99_MS = 14.7  # issue 15: js-libp2p gossipsub, 11 nodes, 20 msg/s, 1 KiB
POSTS_BEFORE_PER_S = 396.0  # issue 15: durable POSTs/s with an fsync per write on the event loop


def run(module: str, *args: str) -> Any:
    """One benchmark in its own process; its JSON report."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        print(f"running {module} {' '.join(args)}", file=sys.stderr, flush=True)
        subprocess.run(
            [sys.executable, "-m", f"simulations.{module}", *args, "--json", out.name],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return json.loads(Path(out.name).read_text())


def entries(rates: list[float], reports: dict[str, Any]) -> list[dict[str, Any]]:
    protocol = reports["protocol"] = run("bench_protocol")
    verify_ms = 1000 / protocol["raw_verify_per_s"]
    sweep: dict[str, Any] = {}
    reports["mesh"] = sweep
    for r in rates:  # upwards, until a rate is not carried
        steady = sweep[str(r)] = run("bench_mesh", "--phases", "steady", "--seconds", "30", "--rate", str(r))["steady"]
        if steady["latency_p99_ms"] > 1000 or steady["delivery_ratio"] < 1:
            break
    at20 = sweep[str(rates[0])]
    carried = [float(r) for r, m in sweep.items() if m["latency_p99_ms"] <= 1000 and m["delivery_ratio"] == 1]
    rate = f"{rates[0]:g}/s"
    return [
        figure(
            f"CPU per gossiped entry per node, {rate} (ms)",
            at20["cpu_s_per_entry_per_node_mean"] * 1000,
            "raw Ed25519 verify (ms)",
            verify_ms,
            2.5,
            True,
        ),
        figure(
            f"write to stored everywhere p99, {rate} (ms)",
            at20["latency_p99_ms"],
            "js-libp2p p99 (issue's figure)",
            JS_LIBP2P_P99_MS,
            2 * JS_LIBP2P_P99_MS,
            True,
        ),
        figure(f"delivered, {rate}", at20["delivery_ratio"], "all", 1.0, 1.0, False),
        figure(
            "largest rate of --rates with p99 <= 1 s (/s)",
            max(carried, default=0.0),
            "the issue's load (/s)",
            rates[0],
            rates[0],
            False,
        ),
    ]


def durable_writes(reports: dict[str, Any]) -> list[dict[str, Any]]:
    api = reports["api"] = run("bench_api", "--seconds", "10", "--clients", "16", "--samples", "0")
    sustained, beside = api["sustained_posts"][0], api["posts_beside_gossip"]
    return [
        figure(
            "durable POSTs/s, 16 clients", sustained["posts_per_s"], "before (issue)", POSTS_BEFORE_PER_S, 1500, False
        ),
        figure("POST p99, 16 clients (ms)", sustained["latency_p99_ms"], "20 ms (target)", 20, 20, True),
        figure(
            "gossip p99 on the node under POSTs (ms)",
            beside["gossip_loaded_p99_ms"],
            "same node idle (ms)",
            beside["gossip_idle_p99_ms"],
            2 * beside["gossip_idle_p99_ms"],
            True,
        ),
    ]


def media(reports: dict[str, Any]) -> list[dict[str, Any]]:
    floor = reports["libp2p"] = run("bench_libp2p", "--mib", "100")
    floor_ms = min(r["cpu_ms_per_mib"] for r in floor)
    shaped = ["--shaped-mbit", "100"] if os.geteuid() == 0 else []
    runs = reports["media"] = run("bench_media", "--mib", "100", "--others", "3,10", *shaped)
    out = []
    for report in runs:
        n, mib, ours = report["others"], report["mib"], report["qroc"]
        if report["upload_shaped_mbit"]:
            bound = report["swarm_bound_s"]
            out.append(
                figure(
                    f"shaped, to {n}: time (s)",
                    ours["complete_everywhere_s"],
                    "swarming bound (s)",
                    bound,
                    1.15 * bound,
                    True,
                )
            )
            if "uploaded_mib" in ours:
                out.append(
                    figure(
                        f"shaped, to {n}: author sent (MiB)", ours["uploaded_mib"][0], "the file (MiB)", mib, mib, True
                    )
                )
            continue
        cpu_ms = ours["cpu_s_all_nodes"] * 1000 / (mib * n)
        out.append(
            figure(f"to {n}: CPU per MiB delivered (ms)", cpu_ms, "bare py-libp2p (ms)", floor_ms, 1.3 * floor_ms, True)
        )
        syncthing = report["syncthing"]["complete_everywhere_after_scan_s"]
        factor = 2.0 if n <= 3 else 3.0
        out.append(
            figure(
                f"to {n}: time (s)", ours["complete_everywhere_s"], "Syncthing (s)", syncthing, factor * syncthing, True
            )
        )
    return out


def scale(reports: dict[str, Any]) -> list[dict[str, Any]]:
    report = reports["scale"] = run("bench_scale", "--no-profile")
    return list(report["figures"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rates", type=lambda s: [float(x) for x in s.split(",")], default=[20.0, 40.0, 60.0, 80.0, 100.0, 120.0]
    )
    parser.add_argument("--no-media", action="store_true")
    parser.add_argument("--no-scale", action="store_true")
    parser.add_argument("--json", help="also write the report here")
    args = parser.parse_args()
    reports: dict[str, Any] = {}
    figures = entries(args.rates, reports) + durable_writes(reports)
    if not args.no_media:
        figures += media(reports)
    if not args.no_scale:
        figures += scale(reports)
    print(table(figures), file=sys.stderr)
    emit({"figures": figures, "reports": reports}, args.json)


if __name__ == "__main__":
    main()
