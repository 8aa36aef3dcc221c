"""Randomised soak of the property and stateful tests, and of the simulator, for as long as asked.

    python3 -m simulations.soak --minutes 60 [--examples 500] [--out soak-failures]

CI runs the Hypothesis tests with a fixed, derandomised profile, so the suite cannot flake
and always reaches the same cases. This script runs the same tests with fresh randomness,
round after round (`QROC_HYPOTHESIS_PROFILE=soak`), interleaved with simulator runs on new
seeds, until the time is up. It prints how many examples and seeds it ran; every failure
is written to the --out directory with Hypothesis's shrunk example and its reproduction
blob (or the failing seed), to be kept as a regression test. Exit status 1 if anything
failed.
"""

import argparse
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

from .vopr import SimConfig, simulate

PROPERTY_TESTS = ["tests/protocol"]
_PASSING = re.compile(r"- (\d+) passing examples?")


def _round(examples: int, out: Path, number: int) -> tuple[int, bool]:
    """One randomised pass over the property tests: (examples run, passed)."""
    env = {**os.environ, "QROC_HYPOTHESIS_PROFILE": "soak", "QROC_SOAK_EXAMPLES": str(examples)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--hypothesis-show-statistics",
            *PROPERTY_TESTS,
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    ran = sum(int(n) for n in _PASSING.findall(result.stdout))
    if result.returncode != 0:
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"property-round-{number}-{int(time.time())}.txt"
        path.write_text(result.stdout + result.stderr)
        print(f"  round {number}: FAILED, kept in {path}")
    return ran, result.returncode == 0


def _seeds(deadline: float, out: Path, rng: random.Random) -> tuple[int, bool]:
    """Simulator runs on fresh seeds for about a minute (or until the deadline)."""
    config = SimConfig(replicas=12, writers=5, fault_ms=120_000)
    ran, ok, until = 0, True, min(deadline, time.monotonic() + 60)
    while time.monotonic() < until:
        seed = rng.randrange(2**32)
        result = simulate(seed, config)
        ran += 1
        if not result.ok:
            ok = False
            out.mkdir(parents=True, exist_ok=True)
            path = out / f"vopr-seed-{seed}.txt"
            replay = f"qroc sim vopr --seed {seed} --replicas 12 --writers 5 --minutes 2"
            path.write_text("\n".join([*result.problems, f"replay with: {replay}", ""]))
            print(f"  simulator seed {seed}: FAILED ({result.problems[0]}), kept in {path}")
    return ran, ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m simulations.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to run")
    parser.add_argument("--examples", type=int, default=500, help="Hypothesis examples per test per round")
    parser.add_argument("--out", type=Path, default=Path("soak-failures"), help="where failures are kept")
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.minutes * 60
    rng = random.SystemRandom()
    examples = seeds = rounds = 0
    ok = True
    while time.monotonic() < deadline:
        rounds += 1
        ran, passed = _round(args.examples, args.out, rounds)
        examples += ran
        more, fine = _seeds(deadline, args.out, rng)
        seeds += more
        ok = ok and passed and fine
        print(f"round {rounds}: {ran} examples, {more} simulator seeds; so far {examples} examples, {seeds} seeds")
    verdict = "all passed" if ok else "FAILURES kept in " + str(args.out)
    print(f"soak: {rounds} rounds in {args.minutes:g} min, {examples} examples, {seeds} simulator seeds: {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
