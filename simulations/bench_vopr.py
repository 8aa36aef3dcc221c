"""Deterministic simulator figures (issue 6).

    python -m simulations.bench_vopr [--json FILE]

1. Simulated time per wall second and peak memory at 100 and 1,000 replicas (each run in
   its own process so that its peak RSS is its own).
2. Convergence time after a heal against the length of a partition into two halves,
   both sides writing (20 replicas, no other faults).
"""

import argparse
import json
import resource
import subprocess
import sys
from dataclasses import replace

from .federation import emit
from .vopr import SimConfig, simulate


def one(replicas: int, seed: int) -> dict[str, float]:
    config = SimConfig(replicas=replicas, writers=10, fault_ms=120_000, write_interval_ms=1000)
    result = simulate(seed, config)
    assert result.ok, result.problems
    return {
        "replicas": replicas,
        "entries": result.entries,
        "events": result.events,
        "simulated_s": result.simulated_ms / 1000,
        "wall_s": result.wall_s,
        "simulated_s_per_wall_s": result.simulated_ms / 1000 / result.wall_s,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "converged_after_heal_s": (result.converged_after_heal_ms or 0) / 1000,
    }


def scale(replicas: int, seed: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "simulations.bench_vopr", "--one", str(replicas), "--seed", str(seed)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def split_convergence(lengths_s: list[int], seeds: int) -> list[dict[str, float]]:
    base = SimConfig(replicas=20, writers=10, crash_gap_ms=0, partition_gap_ms=0, skew_ms=0, split_at_ms=5_000)
    rows = []
    for length in lengths_s:
        times = []
        for seed in range(seeds):
            result = simulate(seed, replace(base, fault_ms=5_000 + length * 1000))
            assert result.ok, result.problems
            times.append((result.converged_after_heal_ms or 0) / 1000)
        rows.append({"partition_s": length, "converged_after_heal_s_mean": sum(times) / len(times), "max": max(times)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.seed)))
        return
    report = {
        "scale": [scale(100, args.seed), scale(1000, args.seed)],
        "split": split_convergence([10, 60, 300, 600], seeds=5),
    }
    emit(report, args.json)


if __name__ == "__main__":
    main()
