"""Restricted incidents' cost (issue 14): bytes and CPU of a sealed entry beside a plain
one, measured in the same run on one core.

    python -m simulations.bench_restricted [--entries N] [--recipients R] [--json FILE]

For N comments on one incident, plain and restricted to R recipients: bytes per entry,
CPU per entry to write (sign, seal, store in memory, fold) and to take in at a recipient
(verify, unseal, fold), and the ratios sealed / plain. The key share that opens the
incident (R wrapped keys) is reported on its own.
"""

import argparse
import os
import time
from collections.abc import Callable

from protocol.body import Comment
from protocol.entry import decode
from protocol.replica import Replica
from tests.protocol.factories import NOW_MS, open_body, replicas

from .federation import emit


def cpu_ms(action: Callable[[], object]) -> float:
    started = time.process_time()
    action()
    return (time.process_time() - started) * 1000


def measure(entries: int, recipients: int) -> dict[str, object]:
    group: list[Replica] = replicas(recipients + 1)
    for replica in group:
        replica.random_bytes = os.urandom
    author, reader = group[0], group[1]
    others = {r.me for r in group[1:] if r.me is not None}
    out: dict[str, object] = {"entries": entries, "recipients": recipients}
    figures: dict[str, dict[str, float]] = {}
    for name, opening in (
        ("plain", author.write(open_body(), NOW_MS)),
        ("sealed", author.open_restricted(open_body(), others, NOW_MS)),
    ):
        reader.receive(opening, NOW_MS)
        written = []
        write_ms = cpu_ms(
            lambda o=opening, w=written: w.extend(
                author.write(Comment(o.id, f"Suspect vehicle seen at border crossing {i}"), NOW_MS + i)
                for i in range(entries)
            )
        )
        read_ms = cpu_ms(
            lambda w=written: [reader.receive(decode(e.signed, reader.roster), NOW_MS + entries) for e in w]
        )
        figures[name] = {
            "opening_bytes": len(opening.signed),
            "bytes_per_entry": sum(len(e.signed) for e in written) / entries,
            "write_ms_per_entry": write_ms / entries,
            "read_ms_per_entry": read_ms / entries,
        }
    plain, sealed = figures["plain"], figures["sealed"]
    out |= figures
    out["sealed_over_plain"] = {k: round(sealed[k] / plain[k], 2) for k in plain}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--recipients", type=int, default=3)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    emit(measure(args.entries, args.recipients), args.json)


if __name__ == "__main__":
    main()
