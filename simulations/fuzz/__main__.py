"""python3 -m simulations.fuzz (--all | --target NAME ...) [--seconds N] [--jobs J]

Fuzzes each target for N seconds, prints executions per second per target and in total,
saves every finding's input under tests/fuzz_regressions/ and exits 1 if there was any.
"""

import argparse
import sys

from .run import ROOT, fuzz_all, save
from .targets import TARGETS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m simulations.fuzz", description=__doc__.splitlines()[2])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every target")
    which.add_argument("--target", action="append", choices=sorted(TARGETS), help="a target (repeatable)")
    parser.add_argument("--seconds", type=float, default=60.0, help="fuzzing time per target (default 60)")
    parser.add_argument("--jobs", type=int, default=1, help="targets fuzzed at once (default 1: clean exec/s)")
    args = parser.parse_args(argv)
    names = list(TARGETS) if args.all else args.target
    results = fuzz_all(names, jobs=args.jobs, seconds=args.seconds)
    print(f"{'target':<16}{'executions':>12}{'seconds':>9}{'exec/s':>9}{'findings':>10}")
    for r in results:
        print(f"{r.target:<16}{r.executions:>12}{r.seconds:>9.1f}{r.per_second:>9.0f}{len(r.findings):>10}")
    executions, seconds = sum(r.executions for r in results), sum(r.seconds for r in results)
    findings = [(r.target, f) for r in results for f in r.findings]
    print(
        f"{'total':<16}{executions:>12}{seconds:>9.1f}{executions / seconds if seconds else 0:>9.0f}{len(findings):>10}"
    )
    for target, finding in findings:
        print(f"\n{target}: {finding.kind}, saved as {save(target, finding).relative_to(ROOT)}")
        print(finding.detail)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
