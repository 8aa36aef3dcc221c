"""Restricted incidents' cost (issue 14): bytes and CPU of a sealed entry beside a plain
one, measured in the same run on one core.

    python -m simulations.bench_restricted [--entries N] [--recipients R] [--json FILE]

For N comments on one incident, plain and restricted to R recipients: bytes per entry,
CPU per entry to write (sign, seal, store in memory, fold) and to take in at a recipient
(verify, unseal, fold), and the ratios sealed / plain. The key share that opens the
incident (R wrapped keys) is reported on its own. Media: CPU per MiB to cut a file into
chunks (hashing them) plain and sealed, and to check each chunk at a receiver (its hash;
sealed, its hash and opening it), with the ratios.
"""

import argparse
import os
import time
from collections.abc import Callable

from protocol.body import Comment
from protocol.entry import decode
from protocol.identity import hash32
from protocol.media import Chunker
from protocol.replica import Replica
from protocol.sealed import ChunkSealer, open_chunk
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


def measure_media(mib: int) -> dict[str, object]:
    data = os.urandom(1024 * 1024) * mib
    figures: dict[str, dict[str, float]] = {}
    file_key = os.urandom(32)
    for name, chunker in (("plain", Chunker()), ("sealed", ChunkSealer(file_key, os.urandom))):
        cut: list[tuple[bytes, bytes]] = []
        write_ms = cpu_ms(lambda c=chunker, out=cut: out.extend([*c.feed(data), *c.finish(bytes(32), "f", "a/b")[0]]))
        if name == "plain":
            read_ms = cpu_ms(lambda out=cut: [hash32(chunk) == h for h, chunk in out])
        else:
            read_ms = cpu_ms(lambda out=cut: [hash32(chunk) == h and open_chunk(file_key, chunk) for h, chunk in out])
        figures[name] = {"cut_ms_per_mib": write_ms / mib, "check_ms_per_mib": read_ms / mib}
    plain, sealed = figures["plain"], figures["sealed"]
    return {"mib": mib, **figures, "sealed_over_plain": {k: round(sealed[k] / plain[k], 2) for k in plain}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--recipients", type=int, default=3)
    parser.add_argument("--media-mib", type=int, default=64)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    emit({**measure(args.entries, args.recipients), "media": measure_media(args.media_mib)}, args.json)


if __name__ == "__main__":
    main()
